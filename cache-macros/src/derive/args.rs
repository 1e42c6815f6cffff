//! Parsing the `#[cache(...)]` attribute of a cache module into [`ModuleArgs`]. The options shared
//! with `#[cached]` are [`CommonOptions`], parsed by the same code, so they are spelled and
//! checked the same way in both places; this file parses the rest.

use syn::parse::ParseStream;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Type};

use crate::diag::Diagnostics;
use crate::options::{CommonOptions, DurationArg, Known, parse_duration, parse_list, parse_quoted};

/// The options `#[cache]` accepts, and names people reach for from ElixirCache and other crates.
const KNOWN: Known = Known {
    options: OPTIONS,
    renamed: RENAMED,
};

/// In the order the docs list them.
const OPTIONS: &[&str] = &[
    "name",
    "key",
    "value",
    "backend",
    "ttl",
    "tti",
    "capacity",
    "weigher",
    "config",
    "sandbox",
    "version",
    "flight",
    "flight_lease",
    "path",
    "local_ttl",
    "restore",
    "crate",
    "warmer",
    "warm_every",
    "warm_wait",
];

/// With what to write in memokit instead.
const RENAMED: &[(&str, &str)] = &[
    (
        "adapter",
        "`backend = memory`, `backend = redis`, `backend = disk` or `backend = tiered`",
    ),
    (
        "opts",
        "`config = path::to::fn` (a function that adjusts the settings at first use)",
    ),
    ("time", "`ttl = \"60s\"` (a duration with a unit)"),
    ("size", "`capacity = 1_000`"),
    ("max_capacity", "`capacity = 1_000`"),
    (
        "warmers",
        "`warmer = path::to::fn, warm_every = \"5m\"` (one warmer per cache module)",
    ),
    (
        "interval",
        "`warm_every = \"5m\"` (the interval of the `warmer`)",
    ),
];

/// A parsed `#[cache(...)]`; every field is individually valid (or already reported).
#[derive(Default)]
pub(crate) struct ModuleArgs {
    /// The options `#[cached]` accepts too.
    pub(crate) common: CommonOptions,
    pub(crate) key: Option<Type>,
    pub(crate) value: Option<Type>,
    pub(crate) config: Option<Path>,
    /// `warmer = path::to::fn`: a sync or async function returning the entries to store. The
    /// option's name, and the path if it is one.
    pub(crate) warmer: Option<(Ident, Option<Path>)>,
    /// `warm_every = "5m"`, with the option's name for errors.
    pub(crate) warm_every: Option<(Ident, DurationArg)>,
    /// `warm_wait = "2s"`: how long the first use waits for the first run.
    pub(crate) warm_wait: Option<(Ident, DurationArg)>,
    /// `restore = "file"`: the snapshot restored at first use and written by `save()`.
    pub(crate) restore: Option<LitStr>,
    /// The `cache(...)` attribute, for errors about what it lacks.
    pub(crate) attr: Option<Meta>,
}

impl ModuleArgs {
    /// Reads the item's `#[cache(...)]` attribute. Every mistake goes to `diag`; what could be
    /// read is returned, so validation can report more mistakes in the same compile.
    pub(crate) fn from_attrs(attrs: &[Attribute], diag: &mut Diagnostics) -> Self {
        let mut args = Self::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("cache")) {
            if args.attr.is_some() {
                diag.error(
                    attr,
                    "a cache module takes one `#[cache(...)]` attribute: merge the options into the first",
                );
                continue;
            }
            args.attr = Some(attr.meta.clone());
            let tokens = match attr.meta.require_list() {
                Ok(list) => list.tokens.clone(),
                Err(_) => {
                    diag.error(
                        attr,
                        "write the options in parentheses: `#[cache(key = K, value = V, ...)]`",
                    );
                    continue;
                }
            };
            let parsed = parse_list(tokens, diag, |name, key, input, diag| {
                args.parse_option(name, key, input, diag)
            });
            diag.recover(parsed);
        }
        args
    }

    fn parse_option(
        &mut self,
        name: &Ident,
        key: &str,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<()> {
        if !KNOWN.expect_value(name, input, diag)?
            || self.common.parse_value(name, key, input, diag)?
        {
            return Ok(());
        }
        match key {
            "key" => self.key = parse_type(input, key, diag)?,
            "value" => self.value = parse_type(input, key, diag)?,
            "config" => self.config = parse_fn_path(input, diag, CONFIG_FN)?,
            "warmer" => self.warmer = Some((name.clone(), parse_fn_path(input, diag, WARMER_FN)?)),
            "warm_every" => {
                self.warm_every = Some((name.clone(), parse_duration(input, key, diag)?));
            }
            "warm_wait" => {
                self.warm_wait = Some((name.clone(), parse_duration(input, key, diag)?));
            }
            "restore" => self.restore = parse_restore(input, diag)?,
            _ => KNOWN.skip_unknown(name, input, diag)?,
        }
        Ok(())
    }
}

/// `key = Type` / `value = Type`. A quoted type is reported with the unquoted spelling, and
/// still used, so the module's functions exist and calls to them add no errors of their own.
fn parse_type(input: ParseStream, key: &str, diag: &mut Diagnostics) -> syn::Result<Option<Type>> {
    if let Some(lit) = parse_quoted(input, key, "a type", diag)? {
        return Ok(lit.parse().ok());
    }
    input.parse().map(Some)
}

const CONFIG_FN: &str = "`config` takes the path of a function `fn(&mut memokit::Settings<K, V>) -> Result<(), memokit::ConfigError>`, like `config = users_config`";

const WARMER_FN: &str = "`warmer` takes the path of a function `fn() -> Result<impl IntoIterator<Item = (K, V)>, E>` (or an `async fn` returning that), like `warmer = load_users`";

/// `config = path::to::fn` or `warmer = path::to::fn`: the path of a function, not a call or a
/// closure, so the module decides when it runs (`config` once, at first use). `expected` is the
/// error for anything else.
fn parse_fn_path(
    input: ParseStream,
    diag: &mut Diagnostics,
    expected: &str,
) -> syn::Result<Option<Path>> {
    let expr: Expr = input.parse()?;
    match expr {
        Expr::Path(path) if path.qself.is_none() => Ok(Some(path.path)),
        other => {
            diag.error(&other, expected);
            Ok(None)
        }
    }
}

/// `restore = "file"`: a non-empty string, the snapshot file (a path known only at run time is
/// for `memokit::Cache::restore` and `save`, called by hand).
fn parse_restore(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Option<LitStr>> {
    let expr: Expr = input.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if !lit.value().is_empty() => Ok(Some(lit)),
        other => {
            diag.error(
                &other,
                "`restore` takes the snapshot file as a non-empty string: write `restore = \"target/caches/users.snapshot\"` (the module restores it at first use and writes it with `save()`)",
            );
            Ok(None)
        }
    }
}
