//! What `#[cached(...)]` and `#[derive(Cache)]`'s `#[cache(...)]` have in common: the
//! `option = value, flag` list, the options both accept ([`CommonOptions`]), the value parsers
//! other options reuse (durations, a string where a type belongs) and the "unknown option"
//! message. One parser per option means one spelling and one error message for `ttl = "5m"`
//! wherever it is written; each attribute parses only the options of its own.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token, Type};

use crate::diag::Diagnostics;
use crate::duration;

/// A duration option: a literal checked at compile time, or an expression of type `Duration`.
pub(crate) enum DurationArg {
    Literal(Duration, Span),
    Expr(Expr),
}

impl DurationArg {
    /// An expression of type `Duration`, spanned on the option's value.
    pub(crate) fn to_duration(&self, private: &TokenStream) -> TokenStream {
        match self {
            Self::Literal(d, span) => {
                let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                quote_spanned!(*span=> #private::Duration::from_nanos(#nanos))
            }
            Self::Expr(expr) => quote_spanned!(expr.span()=> #expr),
        }
    }
}

/// The options both attributes accept, each individually valid (or already reported).
#[derive(Default)]
pub(crate) struct CommonOptions {
    pub(crate) name: Option<LitStr>,
    pub(crate) backend: Option<BackendArg>,
    pub(crate) ttl: Option<DurationArg>,
    pub(crate) tti: Option<DurationArg>,
    pub(crate) capacity: Option<Expr>,
    /// With the option's name, to report what it lacks.
    pub(crate) weigher: Option<(Ident, Expr)>,
    /// `sandbox = "required"`: the span of the literal; `"optional"` (the default) leaves it `None`.
    pub(crate) sandbox_required: Option<Span>,
    /// The schema version of the values (a `u32` literal or expression).
    pub(crate) version: Option<Expr>,
    /// The disk backend's file, with the option's name.
    pub(crate) path: Option<(Ident, LitStr)>,
    /// The tiered backend's bound on a first-layer copy, with the option's name.
    pub(crate) local_ttl: Option<(Ident, DurationArg)>,
    /// `flight = "distributed"`: the span of the literal; `"local"` (the default) leaves it
    /// `None`.
    pub(crate) distributed_flight: Option<Span>,
    /// The lease period of a distributed flight, with the option's name.
    pub(crate) flight_lease: Option<(Ident, DurationArg)>,
    pub(crate) krate: Option<Path>,
}

impl CommonOptions {
    /// Parses the value of option `key` (named `name`, `input` after its `=`) if it is one of
    /// these; `false` leaves `input` untouched for the attribute's own options.
    pub(crate) fn parse_value(
        &mut self,
        name: &Ident,
        key: &str,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<bool> {
        match key {
            "name" => self.name = Some(parse_name(input, diag)?),
            "backend" => self.backend = Some(parse_backend(input, diag)?),
            "ttl" => self.ttl = Some(parse_duration(input, key, diag)?),
            "tti" => self.tti = Some(parse_duration(input, key, diag)?),
            "capacity" => self.capacity = Some(parse_capacity(input, diag)?),
            "weigher" => self.weigher = Some((name.clone(), input.parse()?)),
            "sandbox" => self.sandbox_required = parse_sandbox(input, diag)?,
            "version" => self.version = Some(parse_version(input, diag)?),
            "path" => self.path = parse_path(name, input, diag)?,
            "local_ttl" => self.local_ttl = Some((name.clone(), parse_duration(input, key, diag)?)),
            "flight" => self.distributed_flight = parse_flight(input, diag)?,
            "flight_lease" => {
                self.flight_lease = Some((name.clone(), parse_duration(input, key, diag)?));
            }
            "crate" => self.krate = Some(input.call(Path::parse_mod_style)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Reports what the chosen backend cannot work with: a `path` without `backend = disk` or
    /// `backend = tiered`, `backend = disk` without a `path`, a `local_ttl` without
    /// `backend = tiered`, and options the Redis or disk backend rejects when the cache is built (a memoized function would then run uncached on every call). A cache
    /// module's `config` function may set the path and change the options (`set_elsewhere`), so
    /// those are left to the run-time check there.
    pub(crate) fn check_backend(&self, set_elsewhere: bool, diag: &mut Diagnostics) {
        if !set_elsewhere {
            for (span, message) in self.rejected_by_backend() {
                diag.push(syn::Error::new(span, message));
            }
        }
        self.check_flight(diag);
        match (&self.backend, &self.path) {
            (Some(BackendArg::Disk(_) | BackendArg::Tiered(_)), Some(_)) => {}
            (Some(BackendArg::Disk(span)), None) if !set_elsewhere => diag.push(syn::Error::new(
                *span,
                "the disk backend needs its file: add `path = \"target/caches/NAME.redb\"`",
            )),
            (_, Some((name, _))) => diag.error(
                name,
                "`path` is the file of the disk backend: add `backend = disk` (or `backend = tiered`, for memory in front of it)",
            ),
            _ => {}
        }
        if let Some((name, _)) = &self.local_ttl
            && !matches!(self.backend, Some(BackendArg::Tiered(_)))
        {
            diag.error(
                name,
                "`local_ttl` bounds the first layer of the tiered backend: add `backend = tiered`",
            );
        }
    }

    /// A distributed flight needs a store the processes share: Redis (alone or behind a first
    /// layer), or a backend type of the user's (whose leases the build checks); `flight_lease`
    /// needs the flight.
    fn check_flight(&self, diag: &mut Diagnostics) {
        let shared = match &self.backend {
            None | Some(BackendArg::Memory | BackendArg::Disk(_)) => false,
            Some(BackendArg::Tiered(_)) => self.path.is_none(),
            Some(BackendArg::Redis(_) | BackendArg::Custom(_)) => true,
        };
        match (self.distributed_flight, shared) {
            (Some(span), false) => {
                diag.push(syn::Error::new(
                    span,
                    "`flight = \"distributed\"` shares single flight between processes through a store they share: add `backend = redis`",
                ));
            }
            (None, _) => {
                if let Some((name, _)) = &self.flight_lease {
                    diag.error(
                        name,
                        "`flight_lease` is the lease of single flight across processes: add `flight = \"distributed\"`",
                    );
                }
            }
            _ => {}
        }
    }

    /// The `weigher`, if there is no `capacity` for the total weight it bounds (and the backend
    /// takes weighers at all, else that is the one error). The caller reports it: each attribute
    /// words the error and places it its own way, as its UI tests pin.
    pub(crate) fn weigher_without_capacity(&self) -> Option<&(Ident, Expr)> {
        let bounded_elsewhere = matches!(
            self.backend,
            Some(BackendArg::Redis(_) | BackendArg::Disk(_))
        );
        self.weigher
            .as_ref()
            .filter(|_| self.capacity.is_none() && !bounded_elsewhere)
    }

    /// The options the Redis and disk backends reject when the cache is built, each with the span
    /// of the option and what to write instead.
    fn rejected_by_backend(&self) -> Vec<(Span, String)> {
        let span_of = |arg: &DurationArg| match arg {
            DurationArg::Literal(_, span) => *span,
            DurationArg::Expr(expr) => expr.span(),
        };
        let weigher = self.weigher.as_ref().map(|(name, _)| name.span());
        let tti = self.tti.as_ref().map(span_of);
        let (backend, rejected) = match &self.backend {
            Some(BackendArg::Redis(_)) => (
                "redis",
                [
                    self.capacity.as_ref().map(|c| (c.span(), "takes no `capacity`: Redis bounds its memory with its own `maxmemory` policy; remove `capacity`, or use the memory backend")),
                    weigher.map(|w| (w, "takes no `weigher`: Redis bounds its memory with its own `maxmemory` policy; remove the weigher")),
                    tti.filter(|_| self.ttl.is_some()).map(|t| (t, "keeps one expiry per key: give either `ttl` or `tti`, not both")),
                ],
            ),
            Some(BackendArg::Tiered(_)) => (
                "tiered",
                [
                    tti.map(|t| (t, "takes no `tti`: a first-layer hit never reaches Redis, so it could not push the idle deadline back; use `ttl`")),
                    None,
                    None,
                ],
            ),
            Some(BackendArg::Disk(_)) => (
                "disk",
                [
                    weigher.map(|w| (w, "bounds entries by count: remove the `weigher` and keep `capacity`")),
                    tti.map(|t| (t, "takes no `tti`: a time to idle would make every read a disk write; use `ttl`")),
                    None,
                ],
            ),
            _ => return Vec::new(),
        };
        rejected
            .into_iter()
            .flatten()
            .map(|(span, why)| (span, format!("`backend = {backend}` {why}")))
            .collect()
    }
}

/// Where the cache lives.
pub(crate) enum BackendArg {
    Memory,
    Redis(Span),
    Disk(Span),
    /// Memory in front of Redis, or of the disk backend with a `path`.
    Tiered(Span),
    /// A user type implementing `memokit::Backend<K, V>`.
    Custom(Box<Type>),
}

impl CommonOptions {
    /// The backend type of a cache of `key -> value` when one is chosen; `None` for the
    /// in-memory backend, the default type parameter of `Memo` and `Cache`, so the expansion need
    /// not name it. A tiered cache with a `path` keeps its second layer on disk.
    pub(crate) fn backend_type(
        &self,
        private: &TokenStream,
        key: &TokenStream,
        value: &TokenStream,
    ) -> Option<TokenStream> {
        match &self.backend {
            None | Some(BackendArg::Memory) => None,
            Some(BackendArg::Redis(span)) => Some(quote_spanned!(*span=> #private::RedisBackend)),
            Some(BackendArg::Disk(span)) => Some(quote_spanned!(*span=> #private::DiskBackend)),
            Some(BackendArg::Tiered(span)) if self.path.is_some() => {
                Some(quote_spanned!(*span=> #private::Tiered<#key, #value, #private::DiskBackend>))
            }
            Some(BackendArg::Tiered(span)) => {
                Some(quote_spanned!(*span=> #private::Tiered<#key, #value>))
            }
            Some(BackendArg::Custom(ty)) => Some(quote!(#ty)),
        }
    }
}

/// Parses `name = value, flag, ...`: `option` is called with each option's name (as written and
/// as a string) while `input` is positioned after the name, and must consume its value. A name
/// given twice is reported; syntax errors stop the parse.
pub(crate) fn parse_list(
    tokens: TokenStream,
    diag: &mut Diagnostics,
    mut option: impl FnMut(&Ident, &str, ParseStream, &mut Diagnostics) -> syn::Result<()>,
) -> syn::Result<()> {
    let parser = |input: ParseStream| {
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let name = Ident::parse_any(input)?;
            let key = name.to_string();
            if seen.contains(&key) {
                diag.error(&name, format!("duplicate option `{key}`: give it once"));
            }
            seen.push(key.clone());
            option(&name, &key, input, diag)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    parser.parse2(tokens)
}

/// The options an attribute accepts, and names people reach for from other crates with what to
/// write in memokit instead.
pub(crate) struct Known {
    pub(crate) options: &'static [&'static str],
    pub(crate) renamed: &'static [(&'static str, &'static str)],
}

impl Known {
    /// Consumes the `=` after option `name`, or reports the option (unknown, or missing its
    /// value) and returns `false`.
    pub(crate) fn expect_value(
        &self,
        name: &Ident,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<bool> {
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(true);
        }
        let key = name.to_string();
        let message = if self.options.contains(&key.as_str()) {
            format!("`{key}` needs a value: write `{key} = ...`")
        } else {
            self.unknown_message(&key)
        };
        diag.error(name, message);
        Ok(false)
    }

    /// Reports the unknown option `name` and skips its value.
    pub(crate) fn skip_unknown(
        &self,
        name: &Ident,
        input: ParseStream,
        diag: &mut Diagnostics,
    ) -> syn::Result<()> {
        diag.error(name, self.unknown_message(&name.to_string()));
        input.parse::<Expr>().map(drop)
    }

    /// What to write instead of the unknown option `key`: the memokit spelling of a name known
    /// from other crates, else the closest known option.
    fn unknown_message(&self, key: &str) -> String {
        if let Some((_, instead)) = self.renamed.iter().find(|(old, _)| *old == key) {
            return format!("unknown option `{key}`; in memokit write {instead}");
        }
        let expected = self.options.join(", ");
        match self
            .options
            .iter()
            .find(|known| edit_distance(key, known) <= 2)
        {
            Some(close) => {
                format!("unknown option `{key}`; did you mean `{close}`? (options: {expected})")
            }
            None => format!("unknown option `{key}`; expected one of: {expected}"),
        }
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

/// `path = "file"`: a string literal (a cache module whose file is known only at run time sets
/// it in its `config` function).
fn parse_path(
    name: &Ident,
    input: ParseStream,
    diag: &mut Diagnostics,
) -> syn::Result<Option<(Ident, LitStr)>> {
    let expr: Expr = input.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if !lit.value().is_empty() => Ok(Some((name.clone(), lit))),
        other => {
            diag.error(
                &other,
                "`path` takes the disk backend's file as a non-empty string: write `path = \"target/caches/users.redb\"` (a cache module can set `settings.backend` in its `config` function instead)",
            );
            Ok(None)
        }
    }
}

/// `flight = "distributed" | "local"`.
fn parse_flight(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Option<Span>> {
    let lit: LitStr = input.parse()?;
    match lit.value().as_str() {
        "distributed" => return Ok(Some(lit.span())),
        "local" => {}
        other => diag.error(
            &lit,
            format!(
                "unknown flight \"{other}\": write `flight = \"distributed\"` to share single flight between the processes using the cache (with `backend = redis`), or `\"local\"` (the default: one flight per process)"
            ),
        ),
    }
    Ok(None)
}

/// `sandbox = "required" | "optional"`.
fn parse_sandbox(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Option<Span>> {
    let lit: LitStr = input.parse()?;
    match lit.value().as_str() {
        "required" => return Ok(Some(lit.span())),
        "optional" => {}
        other => diag.error(
            &lit,
            format!(
                "unknown sandbox mode \"{other}\": write `sandbox = \"required\"` to make the tests of this crate fail when they use the cache outside a sandbox, or `\"optional\"` (the default)"
            ),
        ),
    }
    Ok(None)
}

/// `name = "..."`: a non-empty string.
fn parse_name(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<LitStr> {
    let lit: LitStr = input.parse()?;
    if lit.value().trim().is_empty() {
        diag.error(&lit, "`name` must not be empty");
    }
    Ok(lit)
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

fn parse_capacity(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Expr> {
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

fn parse_version(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<Expr> {
    let expr: Expr = input.parse()?;
    if let Expr::Lit(ExprLit { lit, .. }) = &expr {
        let fits = matches!(lit, Lit::Int(int) if int.base10_parse::<u32>().is_ok());
        if !fits {
            diag.error(
                lit,
                "`version` is the values' schema version, a whole number from 0 to 4294967295: write `version = 2`",
            );
        }
    }
    Ok(expr)
}

fn parse_backend(input: ParseStream, diag: &mut Diagnostics) -> syn::Result<BackendArg> {
    if parse_quoted(input, "backend", "a name or a type", diag)?.is_some() {
        return Ok(BackendArg::Memory);
    }
    let ty: Type = input.parse()?;
    if let Type::Path(path) = &ty
        && path.qself.is_none()
        && let Some(ident) = path.path.get_ident()
    {
        let name = ident.to_string();
        match name.as_str() {
            "memory" => return Ok(BackendArg::Memory),
            "redis" => return Ok(BackendArg::Redis(ident.span())),
            "disk" => return Ok(BackendArg::Disk(ident.span())),
            "tiered" => return Ok(BackendArg::Tiered(ident.span())),
            _ if name.starts_with(|c: char| c.is_ascii_lowercase()) => {
                diag.error(
                    ident,
                    format!(
                        "unknown backend `{name}`; expected `memory`, `redis`, `disk`, `tiered`, or the path of a type implementing `memokit::Backend`"
                    ),
                );
                return Ok(BackendArg::Memory);
            }
            _ => {}
        }
    }
    Ok(BackendArg::Custom(Box::new(ty)))
}

/// A string where option `key` takes `takes` (`backend = "redis"`, `key = "u64"`), reported with
/// the unquoted spelling and returned for the caller to recover with; `None` if the value is not
/// a string, with `input` untouched.
pub(crate) fn parse_quoted(
    input: ParseStream,
    key: &str,
    takes: &str,
    diag: &mut Diagnostics,
) -> syn::Result<Option<LitStr>> {
    if !input.peek(LitStr) {
        return Ok(None);
    }
    let lit: LitStr = input.parse()?;
    diag.error(
        &lit,
        format!(
            "`{key}` takes {takes}, not a string: write `{key} = {}`",
            lit.value()
        ),
    );
    Ok(Some(lit))
}
