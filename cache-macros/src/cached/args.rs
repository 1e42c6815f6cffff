//! Parsing `#[cached(...)]` into [`Args`]: hand-written, one option at a time, rejecting unknown and
//! duplicate options with spanned errors that say what to write instead.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, LitBool, LitStr, Path, Token, Type};

use crate::diag::Diagnostics;
use crate::duration;

/// The options `#[cached]` accepts, in the order the docs list them.
const OPTIONS: &[&str] = &[
    "ttl",
    "capacity",
    "name",
    "backend",
    "url",
    "cache_err",
    "cache_none",
    "refresh",
    "sync",
    "crate",
];

/// Names people reach for from other crates, with what to write in memokit.
const RENAMED: &[(&str, &str)] = &[
    ("time", "`ttl = \"60s\"` (a duration with a unit)"),
    ("ttl_secs", "`ttl = \"60s\"` (a duration with a unit)"),
    ("size", "`capacity = 1_000`"),
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

/// A duration option: a literal checked at compile time, or an expression of type `Duration`.
pub(crate) enum DurationArg {
    Literal(Duration, Span),
    Expr(Expr),
}

/// Where the cache lives.
pub(crate) enum BackendArg {
    Memory,
    Redis(Span),
    /// A user type implementing `memokit::Backend<K, V>`.
    Custom(Box<Type>),
}

/// A parsed, individually valid `#[cached(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<DurationArg>,
    pub(crate) capacity: Option<Expr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) backend: Option<BackendArg>,
    /// The Redis URL: a string literal or any expression of a type `Into<String>`.
    pub(crate) url: Option<Expr>,
    pub(crate) cache_err: Option<Ident>,
    pub(crate) cache_none: Option<Ident>,
    /// Stale-while-revalidate age.
    pub(crate) refresh: Option<DurationArg>,
    /// `sync = false` turns single flight off.
    pub(crate) sync: Option<LitBool>,
    pub(crate) krate: Option<Path>,
}

impl Args {
    /// Parses the attribute's tokens. Syntax errors stop the parse; every other mistake is
    /// recorded in `diag` and parsing goes on, so all of them are reported together.
    pub(crate) fn parse(tokens: TokenStream, diag: &mut Diagnostics) -> syn::Result<Self> {
        let parser = |input: ParseStream| {
            let mut args = Args::default();
            let mut seen: Vec<String> = Vec::new();
            while !input.is_empty() {
                let name = Ident::parse_any(input)?;
                let key = name.to_string();
                if seen.contains(&key) {
                    diag.error(&name, format!("duplicate option `{key}`: give it once"));
                }
                seen.push(key.clone());
                args.parse_option(&name, &key, input, diag)?;
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            args.check_refresh_before_ttl(diag);
            if let Some(url) = &args.url
                && !matches!(args.backend, Some(BackendArg::Redis(_)))
            {
                diag.error(
                    url,
                    "`url` is the address of a Redis server: add `backend = redis`",
                );
            }
            Ok(args)
        };
        parser.parse2(tokens)
    }

    fn parse_option(
        &mut self,
        name: &Ident,
        key: &str,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<()> {
        match key {
            "cache_err" | "cache_none" => {
                if input.peek(Token![=]) {
                    diag.error(
                        name,
                        format!("`{key}` is a flag: write `{key}` without a value"),
                    );
                    input.parse::<Token![=]>()?;
                    input.parse::<Expr>()?;
                }
                let slot = if key == "cache_err" {
                    &mut self.cache_err
                } else {
                    &mut self.cache_none
                };
                *slot = Some(name.clone());
                return Ok(());
            }
            _ => {}
        }
        if !input.peek(Token![=]) {
            let message = if OPTIONS.contains(&key) {
                format!("`{key}` needs a value: write `{key} = ...`")
            } else {
                unknown_option(key)
            };
            diag.error(name, message);
            return Ok(());
        }
        input.parse::<Token![=]>()?;
        match key {
            "ttl" => self.ttl = Some(parse_duration(input, key, diag)?),
            "refresh" => self.refresh = Some(parse_duration(input, key, diag)?),
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
            "capacity" => self.capacity = Some(parse_capacity(input, diag)?),
            "name" => {
                let lit: LitStr = input.parse()?;
                if lit.value().trim().is_empty() {
                    diag.error(&lit, "`name` must not be empty");
                }
                self.name = Some(lit);
            }
            "backend" => self.backend = Some(parse_backend(input, diag)?),
            "url" => self.url = Some(input.parse()?),
            "crate" => self.krate = Some(input.call(Path::parse_mod_style)?),
            _ => {
                diag.error(name, unknown_option(key));
                input.parse::<Expr>()?;
            }
        }
        Ok(())
    }
}

impl Args {
    /// A refresh age at or past the TTL would never fire: the entry expires first.
    fn check_refresh_before_ttl(&self, diag: &mut Diagnostics) {
        if let (Some(DurationArg::Literal(refresh, span)), Some(DurationArg::Literal(ttl, _))) =
            (&self.refresh, &self.ttl)
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
}

fn unknown_option(key: &str) -> String {
    if let Some((_, instead)) = RENAMED.iter().find(|(old, _)| *old == key) {
        return format!("unknown option `{key}`; in memokit write {instead}");
    }
    let expected = OPTIONS.join(", ");
    match OPTIONS.iter().find(|known| edit_distance(key, known) <= 2) {
        Some(close) => {
            format!("unknown option `{key}`; did you mean `{close}`? (options: {expected})")
        }
        None => format!("unknown option `{key}`; expected one of: {expected}"),
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub(crate) fn parse_duration(
    input: ParseStream,
    key: &str,
    diag: &mut Diagnostics,
) -> syn::Result<DurationArg> {
    let expr: Expr = input.parse()?;
    match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match duration::parse(&lit.value()) {
            Ok(d) => Ok(DurationArg::Literal(d, lit.span())),
            Err(message) => {
                diag.error(lit, format!("`{key}`: {message}"));
                Ok(DurationArg::Literal(Duration::from_secs(1), lit.span()))
            }
        },
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => {
            diag.error(
                lit,
                format!(
                    "`{key}` needs a unit: write `{key} = \"{}s\"` or a `Duration` expression",
                    lit.base10_digits()
                ),
            );
            Ok(DurationArg::Expr(expr))
        }
        Expr::Lit(lit) => {
            diag.error(
                lit,
                format!("`{key}` takes a string like \"90s\" or a `Duration` expression"),
            );
            Ok(DurationArg::Expr(expr))
        }
        _ => Ok(DurationArg::Expr(expr)),
    }
}

pub(crate) fn parse_capacity(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Expr> {
    let expr: Expr = input.parse()?;
    if let Expr::Lit(ExprLit { lit, .. }) = &expr {
        match lit {
            Lit::Int(int) => match int.base10_parse::<u64>() {
                Ok(0) => diag.error(int, "`capacity` must be at least 1"),
                Ok(_) => {}
                Err(e) => diag.error(int, format!("`capacity`: {e}")),
            },
            other => diag.error(
                other,
                "`capacity` is a number of entries: write `capacity = 10_000`",
            ),
        }
    }
    Ok(expr)
}

pub(crate) fn parse_backend(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<BackendArg> {
    let ty: Type = input.parse()?;
    if let Type::Path(path) = &ty
        && path.qself.is_none()
        && let Some(ident) = path.path.get_ident()
    {
        let name = ident.to_string();
        match name.as_str() {
            "memory" => return Ok(BackendArg::Memory),
            "redis" => return Ok(BackendArg::Redis(ident.span())),
            _ if name.starts_with(|c: char| c.is_ascii_lowercase()) => {
                diag.error(
                    ident,
                    format!(
                        "unknown backend `{name}`; expected `memory`, `redis`, or the path of a type implementing `memokit::Backend`"
                    ),
                );
                return Ok(BackendArg::Memory);
            }
            _ => {}
        }
    }
    Ok(BackendArg::Custom(Box::new(ty)))
}
