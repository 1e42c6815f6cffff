//! Parsing `#[cached(...)]` into [`Args`]: hand-written, one option at a time, rejecting unknown and
//! duplicate options with spanned errors that say what to write instead. The options
//! `#[derive(Cache)]` accepts too are [`CommonOptions`]; this file parses the rest.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Expr, ExprLit, Ident, Lit, LitBool, Token, Type};

use crate::diag::Diagnostics;
use crate::options::{BackendArg, CommonOptions, DurationArg, Known, parse_duration, parse_list};

/// The options `#[cached]` accepts, in the order the docs list them, and names people reach for
/// from other crates.
const KNOWN: Known = Known {
    options: OPTIONS,
    renamed: RENAMED,
};

const OPTIONS: &[&str] = &[
    "key",
    "condition",
    "unless",
    "ttl",
    "ttl_from",
    "tti",
    "capacity",
    "weigher",
    "name",
    "backend",
    "url",
    "timeout",
    "path",
    "local_ttl",
    "cache_err",
    "cache_none",
    "refresh",
    "fallback",
    "once",
    "batch",
    "sync",
    "flight",
    "flight_lease",
    "companion",
    "sandbox",
    "version",
    "crate",
];

/// Names people reach for from other crates, with what to write in memokit.
const RENAMED: &[(&str, &str)] = &[
    ("time", "`ttl = \"60s\"` (a duration with a unit)"),
    ("ttl_secs", "`ttl = \"60s\"` (a duration with a unit)"),
    ("size", "`capacity = 1_000`"),
    (
        "convert",
        "`key: Type = <expr>`: the key expression with its type, no string",
    ),
    ("time_to_idle", "`tti = \"5m\"`"),
    ("when", "`condition = <bool expression>`"),
    ("if", "`condition = <bool expression>`"),
    ("max_capacity", "`capacity = 1_000`"),
    (
        "result",
        "nothing: `Result` functions cache only `Ok` by default; `cache_err` caches errors too",
    ),
    (
        "option",
        "nothing: `Option` functions cache only `Some` by default; `cache_none` caches `None` too",
    ),
];

/// A custom key: a subset of the arguments by name, or any expression with its type.
pub(crate) enum KeyArg {
    /// `key = id` or `key = (tenant, id)`: these arguments, keyed as the default key would.
    Args(Vec<Ident>),
    /// `key: String = format!("{a}/{b}")`.
    Typed { ty: Box<Type>, expr: Box<Expr> },
}

/// The companion handle's name, or none (in trait impls, which can't hold one).
pub(crate) enum CompanionArg {
    Named(Ident),
    Disabled,
}

/// A parsed, individually valid `#[cached(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// The options `#[derive(Cache)]` accepts too.
    pub(crate) common: CommonOptions,
    pub(crate) key: Option<(Ident, KeyArg)>,
    pub(crate) condition: Option<Expr>,
    pub(crate) unless: Option<(Ident, Expr)>,
    pub(crate) ttl_from: Option<(Ident, Expr)>,
    pub(crate) companion: Option<CompanionArg>,
    /// The Redis URL: a string literal or any expression of a type `Into<String>`.
    pub(crate) url: Option<Expr>,
    /// The deadline of each Redis operation.
    pub(crate) timeout: Option<(Ident, DurationArg)>,
    pub(crate) cache_err: Option<Ident>,
    pub(crate) cache_none: Option<Ident>,
    /// `once`: one cached value whatever the arguments.
    pub(crate) once: Option<Ident>,
    /// `batch`: the function maps a list of ids to a map of values, each cached under its id.
    pub(crate) batch: Option<Ident>,
    /// Stale-while-revalidate age.
    pub(crate) refresh: Option<(Ident, DurationArg)>,
    /// How long past the TTL a value is kept to answer an `Err` with.
    pub(crate) fallback: Option<(Ident, DurationArg)>,
    /// `sync = false` turns single flight off.
    pub(crate) sync: Option<LitBool>,
}

impl Args {
    /// Parses the attribute's tokens. Syntax errors stop the parse; every other mistake is
    /// recorded in `diag` and parsing goes on, so all of them are reported together.
    pub(crate) fn parse(tokens: TokenStream, diag: &mut Diagnostics) -> syn::Result<Self> {
        let mut args = Args::default();
        parse_list(tokens, diag, |name, key, input, diag| {
            args.parse_option(name, key, input, diag)
        })?;
        args.check_refresh_before_ttl(diag);
        args.common.check_backend(false, diag);
        let why = match (&args.common.backend, &args.common.path) {
            (Some(BackendArg::Tiered(_)), Some(_)) => {
                ": this tiered cache keeps its second layer on disk (`path`); give `path` or Redis's options, not both"
            }
            (Some(BackendArg::Redis(_) | BackendArg::Tiered(_)), _) => "",
            _ => ": add `backend = redis` (or `backend = tiered`)",
        };
        if !why.is_empty() {
            if let Some(url) = &args.url {
                diag.error(url, format!("`url` is the address of a Redis server{why}"));
            }
            if let Some((name, _)) = &args.timeout {
                diag.error(
                    name,
                    format!("`timeout` is the deadline of each Redis operation{why}"),
                );
            }
        }
        Ok(args)
    }

    /// A refresh age at or past the TTL would never fire: the entry expires first.
    fn check_refresh_before_ttl(&self, diag: &mut Diagnostics) {
        if let (Some((_, DurationArg::Literal(refresh, span))), Some(DurationArg::Literal(ttl, _))) =
            (&self.refresh, &self.common.ttl)
            && refresh >= ttl
        {
            diag.push(syn::Error::new(
                *span,
                "`refresh` must be shorter than `ttl`, or entries expire before they are refreshed",
            ));
        }
    }

    /// Whether single flight is on (the default; `sync = false` turns it off).
    pub(crate) fn single_flight(&self) -> bool {
        self.sync.as_ref().is_none_or(|flag| flag.value)
    }

    /// Reports options that contradict each other.
    pub(crate) fn check(&self, diag: &mut Diagnostics) {
        // A background refresh rebuilds the arguments from the default key and stores its result
        // by the policy alone, so it can't honour a custom key or the per-result rules.
        if let Some((refresh, _)) = self.refresh.as_ref().filter(|_| self.batch.is_none()) {
            let conflicts = [
                self.key.as_ref().map(|(k, _)| k),
                self.unless.as_ref().map(|(u, _)| u),
                self.ttl_from.as_ref().map(|(t, _)| t),
            ];
            conflict(diag, conflicts, |other| {
                format!(
                    "`{other}` and `{refresh}` conflict: a background refresh reloads from the arguments alone and stores by the return type's rule; drop one of them"
                )
            });
        }
        if let Some(once) = self.once.as_ref().filter(|_| self.batch.is_none()) {
            let conflicts = [
                self.key.as_ref().map(|(k, _)| k),
                self.refresh.as_ref().map(|(r, _)| r),
            ];
            conflict(diag, conflicts, |other| {
                format!(
                    "`{other}` and `{once}` conflict: `once` keeps one value whatever the arguments; drop one of them"
                )
            });
        }
        if let Some(batch) = &self.batch {
            let conflicts = [
                self.key.as_ref().map(|(k, _)| k),
                self.unless.as_ref().map(|(u, _)| u),
                self.ttl_from.as_ref().map(|(t, _)| t),
                self.refresh.as_ref().map(|(r, _)| r),
                self.cache_err.as_ref(),
                self.cache_none.as_ref(),
                self.once.as_ref(),
                self.fallback.as_ref().map(|(f, _)| f),
            ];
            conflict(diag, conflicts, |other| {
                format!(
                    "`{other}` does not apply to `{batch}`: a batch caches each returned pair under its id, and a missing id or an `Err` caches nothing; drop `{other}`"
                )
            });
            if let Some(condition) = &self.condition {
                diag.error(
                    condition,
                    format!("`condition` does not apply to `{batch}`: every id of a batch goes through the cache; drop `condition`"),
                );
            }
            if let Some(sync) = &self.sync {
                diag.error(
                    sync,
                    format!("`sync` does not apply to `{batch}`: a batch always loads each id once; drop `sync`"),
                );
            }
            if let Some(span) = self.common.distributed_flight {
                diag.push(syn::Error::new(
                    span,
                    format!("`flight = \"distributed\"` does not apply to `{batch}`: a batch loads its ids in this process's flight; drop `flight`"),
                ));
            }
        }
        if let (Some(span), false) = (self.common.distributed_flight, self.single_flight()) {
            diag.push(syn::Error::new(
                span,
                "`flight = \"distributed\"` and `sync = false` conflict: single flight across processes needs single flight in each; drop one of them",
            ));
        }
        if let Some((fallback, _)) = &self.fallback {
            if self.common.ttl.is_none() {
                diag.error(
                    fallback,
                    "`fallback` keeps each value that long past its `ttl`: add `ttl = \"...\"`",
                );
            }
            if let Some(cache_err) = &self.cache_err {
                diag.error(
                    cache_err,
                    format!("`{cache_err}` and `{fallback}` conflict: `fallback` answers an `Err` with the last `Ok`, so errors must not be cached; drop one of them"),
                );
            }
        }
        if let Some((weigher, _)) = self.common.weigher_without_capacity() {
            diag.error(
                weigher,
                "`weigher` bounds the total weight by `capacity`: add `capacity = <max total weight>`",
            );
        }
        if let (Some(_), Some(none)) = (&self.cache_err, &self.cache_none) {
            diag.error(
                none,
                "`cache_err` and `cache_none` conflict: a function returns a `Result` or an `Option`, keep the flag for its return type",
            );
        }
    }

    fn parse_option(
        &mut self,
        name: &Ident,
        key: &str,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<()> {
        match key {
            "cache_err" | "cache_none" | "once" | "batch" => {
                if input.peek(Token![=]) {
                    diag.error(
                        name,
                        format!("`{key}` is a flag: write `{key}` without a value"),
                    );
                    input.parse::<Token![=]>()?;
                    input.parse::<Expr>()?;
                }
                let slot = match key {
                    "cache_err" => &mut self.cache_err,
                    "cache_none" => &mut self.cache_none,
                    "once" => &mut self.once,
                    _ => &mut self.batch,
                };
                *slot = Some(name.clone());
                return Ok(());
            }
            "key" if input.peek(Token![:]) => {
                input.parse::<Token![:]>()?;
                let ty: Type = input.parse()?;
                input.parse::<Token![=]>()?;
                let expr: Expr = input.parse()?;
                self.key = Some((
                    name.clone(),
                    KeyArg::Typed {
                        ty: Box::new(ty),
                        expr: Box::new(expr),
                    },
                ));
                return Ok(());
            }
            _ => {}
        }
        if !KNOWN.expect_value(name, input, diag)?
            || self.common.parse_value(name, key, input, diag)?
        {
            return Ok(());
        }
        match key {
            "key" => self.key = Some((name.clone(), parse_key(input, diag)?)),
            "condition" => self.condition = Some(parse_condition(input, diag)?),
            "unless" => self.unless = Some((name.clone(), parse_closure(input, key, diag)?)),
            "ttl_from" => self.ttl_from = Some((name.clone(), parse_closure(input, key, diag)?)),
            "companion" => self.companion = Some(parse_companion(input, diag)?),
            "refresh" => self.refresh = Some((name.clone(), parse_duration(input, key, diag)?)),
            "fallback" => self.fallback = Some((name.clone(), parse_duration(input, key, diag)?)),
            "sync" => match input.parse::<Expr>()? {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(flag),
                    ..
                }) => self.sync = Some(flag),
                other => diag.error(
                    other,
                    "`sync` takes `true` or `false`: `sync = false` turns single flight off",
                ),
            },
            "url" => self.url = Some(input.parse()?),
            "timeout" => self.timeout = Some((name.clone(), parse_duration(input, key, diag)?)),
            _ => KNOWN.skip_unknown(name, input, diag)?,
        }
        Ok(())
    }
}

/// Reports each option of `conflicts` that is present, with its `message`.
fn conflict<const N: usize>(
    diag: &mut Diagnostics,
    conflicts: [Option<&Ident>; N],
    message: impl Fn(&Ident) -> String,
) {
    for other in conflicts.into_iter().flatten() {
        diag.error(other, message(other));
    }
}

/// `key = arg` or `key = (a, b)` names arguments; any other expression needs its type.
fn parse_key(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<KeyArg> {
    fn arg_name(expr: &Expr) -> Option<Ident> {
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                path.path.get_ident().cloned()
            }
            _ => None,
        }
    }
    let expr: Expr = input.parse()?;
    let names = match &expr {
        Expr::Tuple(tuple) => tuple.elems.iter().map(arg_name).collect(),
        Expr::Paren(paren) => arg_name(&paren.expr).map(|name| vec![name]),
        other => arg_name(other).map(|name| vec![name]),
    };
    match names {
        Some(names) if !names.is_empty() => Ok(KeyArg::Args(names)),
        _ => {
            diag.error(
                &expr,
                "a `key` expression needs its type, as the cache is a static: write `key: String = <expr>` (or `key = (a, b)` to key by some of the arguments)",
            );
            Ok(KeyArg::Args(Vec::new()))
        }
    }
}

fn parse_condition(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Expr> {
    let expr: Expr = input.parse()?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Bool(b), ..
    }) = &expr
    {
        let message = if b.value {
            "`condition = true` always caches: remove the option"
        } else {
            "`condition = false` never caches: remove `#[cached]` instead"
        };
        diag.error(b, message);
    }
    Ok(expr)
}

/// `unless` and `ttl_from` take a closure of one argument (or a path to a function).
fn parse_closure(input: ParseStream, key: &str, diag: &mut Diagnostics) -> syn::Result<Expr> {
    let expr: Expr = input.parse()?;
    let what = if key == "unless" {
        "`unless = |result| ...` (true: don't store this result)"
    } else {
        "`ttl_from = |value| ...` (a `Duration`, or `Option<Duration>` where `None` keeps the cache-wide TTL)"
    };
    match &expr {
        Expr::Closure(closure) if closure.inputs.len() != 1 => diag.error(
            &closure.inputs,
            format!("`{key}` takes one argument: write {what}"),
        ),
        Expr::Closure(_) | Expr::Path(_) => {}
        other => diag.error(other, format!("`{key}` takes a closure: write {what}")),
    }
    Ok(expr)
}

fn parse_companion(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<CompanionArg> {
    if input.peek(syn::LitBool) {
        let flag: syn::LitBool = input.parse()?;
        if flag.value {
            diag.error(
                &flag,
                "a companion is generated by default: write `companion = NAME` to rename it, or `companion = false` (in trait impls)",
            );
        }
        return Ok(CompanionArg::Disabled);
    }
    if input.peek(Ident::peek_any) {
        return Ok(CompanionArg::Named(Ident::parse_any(input)?));
    }
    let expr: Expr = input.parse()?;
    diag.error(
        &expr,
        "`companion` takes a name (`companion = USERS`) or `false`",
    );
    Ok(CompanionArg::Disabled)
}
