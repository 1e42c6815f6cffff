//! Expanding a validated `#[cached]` function: a static [`Memo`](memokit::Memo) inside the body,
//! two calls into the runtime around the body (`Memo::enter`, then `finish_memoized`), and a companion constant
//! beside the function.
//!
//! The static lives inside the body so the body never has to name an item beside it: the same
//! expansion then works for free functions, inherent methods, receiver-less associated functions
//! and trait methods, which an attribute cannot tell apart. The companion constant is plain data
//! with the same id, no second static; the runtime links the two to one cache (see
//! `memokit::Companion`). The runtime does the work; the expansion only wires names and types
//! together, with no turbofish and one closure (the body), so that it stays cheap to compile.

use std::hash::{DefaultHasher, Hash, Hasher};

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, PatType, Signature, Type};

use super::args::{Args, CompanionArg};
use super::signature::{Analysis, Key, Policy};
use crate::options::{BackendArg, DurationArg};
use crate::paths::respan;

/// The companion's name under the documented scheme: `fetch_user` -> `FETCH_USER_MEMO`.
pub(crate) fn companion_name(fn_name: &str) -> String {
    format!("{}_MEMO", fn_name.to_uppercase())
}

pub(crate) fn expand(func: ItemFn, args: Args, analysis: Analysis) -> TokenStream {
    let private = crate::paths::private(args.common.krate.as_ref());
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &func;
    let ident = &sig.ident;
    let fn_name = ident.to_string();
    let fn_name = fn_name.trim_start_matches("r#");
    let ret = &analysis.ret;

    let (key_ty, lookup) = match &analysis.key {
        Key::Parts(parts) => {
            let owned: Vec<_> = parts.iter().map(|k| &k.owned).collect();
            let borrowed: Vec<_> = parts.iter().map(|k| &k.borrowed).collect();
            match (owned.as_slice(), borrowed.as_slice()) {
                ([], []) => (quote!(()), quote!(&())),
                ([owned], [borrowed]) if parts[0].is_ref => (quote!(#owned), quote!(#borrowed)),
                ([owned], [borrowed]) => (quote!(#owned), quote!(&#private::KeyRef(#borrowed))),
                _ => (
                    quote!((#(#owned,)*)),
                    quote!(&#private::KeyRef((#(#borrowed,)*))),
                ),
            }
        }
        // A typed key is looked up by reference to itself.
        Key::Typed { ty, .. } => (ty.to_token_stream(), TokenStream::new()),
    };
    let rule = match analysis.policy {
        Policy::Whole => quote!(#private::Whole),
        Policy::OkOnly => quote!(#private::OkOnly),
        Policy::SomeOnly => quote!(#private::SomeOnly),
    };
    // The policy as a type, and as the value `finish_memoized` infers it from.
    let (policy, policy_value) = if analysis.flagged {
        (
            quote!(#private::Flagged<#rule>),
            quote!(#private::Flagged(#rule)),
        )
    } else {
        (rule.clone(), rule)
    };
    // Under `Whole` the value is the return type itself; naming it so keeps the output short.
    let value_ty = match analysis.policy {
        Policy::Whole if !analysis.flagged => ret.to_token_stream(),
        _ => quote_spanned!(ret.span()=> #private::Value<#ret, #policy>),
    };
    // The memory backend is `Memo`'s default parameter; naming it would only lengthen the output.
    let backend_ty = args.common.backend_type(&private, &key_ty, &value_ty);
    let backend_ty = backend_ty.map(|b| quote!(, #b));
    // A key that is not `Hash + Eq`, a value that is not `Clone`: every bound the generated code
    // asks for is spanned on the function's name, so that each mistake is reported once there (the
    // compiler drops a repeated error at one span) rather than once per use, on the attribute.
    // The span is the name's location with the expansion's hygiene: the compiler then takes it for
    // generated code and offers no fix written into the signature (such as `fn &name`).
    let sig_span = proc_macro2::Span::call_site().located_at(ident.span());
    let memo_ty = respan(
        quote!(#private::Memo<#key_ty, #value_ty #backend_ty>),
        sig_span,
    );

    let rules = if args.unless.is_none() && args.ttl_from.is_none() {
        quote!(&#private::NoRules)
    } else {
        let unless = args
            .unless
            .as_ref()
            .map_or_else(|| quote!(#private::no_unless), |(_, u)| quote!(#u));
        let ttl_from = args
            .ttl_from
            .as_ref()
            .map_or_else(|| quote!(#private::no_ttl), |(_, t)| quote!(#t));
        quote!(&#private::FnRules::new::<#ret, #value_ty>(#unless, #ttl_from))
    };
    let is_async = sig.asyncness.is_some();
    let (enter, finish, body, wait) = if is_async {
        (
            quote!(Memo::enter_async),
            quote!(finish_memoized_async),
            async_body(ret, &block.stmts),
            quote!(.await),
        )
    } else {
        (
            quote!(Memo::enter),
            quote!(finish_memoized),
            quote!(&mut ::core::option::Option::Some(move || -> #ret #block)),
            quote!(),
        )
    };
    let flight = if args.single_flight() {
        quote!(#private::FlightMode::Single)
    } else {
        quote!(#private::FlightMode::PerCaller)
    };
    let entry = match &analysis.key {
        Key::Parts(_) => {
            // `then_some` rather than `if`: the lookup may be a temporary (`&KeyRef(..)`), which
            // must live to the end of the statement.
            // The lookup is generated (the arguments, borrowed), so it takes the span too; a
            // `condition` is the user's expression and keeps its own.
            let lookup = respan(lookup.clone(), sig_span);
            let lookup = match &args.condition {
                Some(cond) => {
                    let then_some = respan(quote!(::core::primitive::bool::then_some), sig_span);
                    quote!(#then_some(#cond, #lookup))
                }
                None => respan(quote!(::core::option::Option::Some(#lookup)), sig_span),
            };
            let enter = respan(quote!(#private::#enter), sig_span);
            let memo = respan(quote!(&__MEMOKIT_MEMO), sig_span);
            let call = parens(quote!(#memo, #lookup), sig_span);
            quote!(let __memokit_entry = #enter #call #wait;)
        }
        Key::Typed { expr, .. } => {
            let enter = respan(quote!(#private::#enter), sig_span);
            let call = respan(quote!((&__MEMOKIT_MEMO, __memokit_key.as_ref())), sig_span);
            // A typed `let`, so a mismatch reads "expected `K`" on the user's expression.
            let key = quote!({ let __memokit_key: #key_ty = #expr; __memokit_key });
            let key = match &args.condition {
                Some(cond) => quote! {
                    if #cond { ::core::option::Option::Some(#key) } else { ::core::option::Option::None }
                },
                None => quote!(::core::option::Option::Some(#key)),
            };
            quote! {
                let __memokit_key: ::core::option::Option<#key_ty> = #key;
                let __memokit_entry = #enter #call #wait;
            }
        }
    };
    // With `refresh`, a stale hit hands the runtime a reload: the body again, with the arguments
    // rebound from the owned key it moves into the background. The body's statements follow the
    // rebinding in one block: the body as a block of its own there would be a tail block that
    // `unused_braces` flags in the user's code.
    let stale = args.refresh.is_some().then(|| {
        let rebind = rebind_arguments(sig);
        let stmts = &block.stmts;
        let reload = if is_async {
            quote!(move |__memokit_key: #key_ty| async move { #rebind #(#stmts)* })
        } else {
            quote!(move |__memokit_key: #key_ty| -> #ret { #rebind #(#stmts)* })
        };
        let refresh = if is_async {
            quote!(refresh_stale_async)
        } else {
            quote!(refresh_stale)
        };
        let refresh = respan(quote!(#private::#refresh), sig_span);
        quote!(let __memokit_entry = #refresh(__memokit_entry, #policy_value, #reload)#wait;)
    });

    let finish = respan(quote!(#private::#finish), sig_span);
    // The generated arguments take the span too; the rules (the user's `unless` and `ttl_from`
    // closures) and the body keep theirs.
    let head = respan(quote!(__memokit_entry, #policy_value,), sig_span);
    let flight = respan(quote!(#flight,), sig_span);
    let finish_args = parens(quote!(#head #rules, #flight #body), sig_span);
    let companion = companion(
        &func,
        &args,
        &private,
        quote!(#key_ty, #value_ty #backend_ty),
    );
    let init = memo_init(&func, &args, &private, fn_name);

    quote! {
        #companion

        #(#attrs)*
        #vis #sig {
            // Spanned on the user's name, so clippy takes the type as theirs.
            #[allow(clippy::type_complexity)]
            static __MEMOKIT_MEMO: #memo_ty = #private::Memo::#init;
            #entry
            #stale
            #finish #finish_args #wait
        }
    }
}

/// `( tokens )`, the parentheses at `span`: a call's obligations are reported on the span of the
/// whole call, which its parentheses end.
fn parens(tokens: TokenStream, span: proc_macro2::Span) -> proc_macro2::Group {
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, tokens);
    group.set_span(span);
    group
}

/// An async body as the future `finish_memoized_async` awaits: its statements in an `async move` block
/// whose output is pinned to the return type, as tracing-attributes does, so that a body of the
/// wrong type reads "expected `R`" on its own tail, once. The statements are inlined rather than
/// the body kept as a block: a block as the tail would draw `unused_braces` in the user's code.
fn async_body(ret: &Type, stmts: &[syn::Stmt]) -> TokenStream {
    let fake = quote_spanned! {ret.span()=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __memokit_fake_return: #ret = loop {};
            return __memokit_fake_return;
        }
    };
    quote!(async move { #fake #(#stmts)* })
}

/// The companion constant beside the function (none with `companion = false`), of type
/// `Companion<#types>`.
pub(super) fn companion(
    func: &ItemFn,
    args: &Args,
    private: &TokenStream,
    types: TokenStream,
) -> Option<TokenStream> {
    let ident = &func.sig.ident;
    let fn_name = ident.to_string();
    let fn_name = fn_name.trim_start_matches("r#");
    let companion = match &args.companion {
        Some(CompanionArg::Disabled) => return None,
        Some(CompanionArg::Named(name)) => name.clone(),
        None => format_ident!("{}", companion_name(fn_name), span = ident.span()),
    };
    let doc = format!(
        "The companion handle of `{fn_name}` (generated by `#[cached]`): invalidate one call's entry, clear, read stats, prime, refresh, or call it uncached; see `memokit::Memo`."
    );
    let init = memo_init(func, args, private, fn_name);
    let vis = &func.vis;
    // On the function's name, as the bounds of the function's own cache are (see `expand`).
    let companion_ty = respan(quote!(#private::Companion<#types>), ident.span());
    Some(quote! {
        #[doc = #doc]
        #[allow(clippy::type_complexity)]
        #vis const #companion: #companion_ty = #private::Companion::#init;
    })
}

/// The arguments of `Memo::` and `Companion::` that tie the two to one cache: `named(id, name)`
/// when the cache has no options, `new(id, || builder)` otherwise. The id is the module path, the
/// name, the source position of the name, and a hash of the whole item (so that two functions that
/// a `macro_rules!` expands at one position stay apart).
pub(super) fn memo_init(
    func: &ItemFn,
    args: &Args,
    private: &TokenStream,
    fn_name: &str,
) -> TokenStream {
    let ident = &func.sig.ident;
    let mut hasher = DefaultHasher::new();
    func.to_token_stream().to_string().hash(&mut hasher);
    let hash = format!("#{:016x}", hasher.finish());
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let column = quote_spanned!(ident.span()=> ::core::column!());
    let path = format!("::{fn_name}");
    let at = format!("::{fn_name}@");
    let id = quote!(::core::concat!(::core::module_path!(), #at, #line, ":", #column, #hash));
    let name = args.common.name.as_ref().map(|name| quote!(#name));
    let duration = |setter: &str, arg: &DurationArg| {
        let setter = format_ident!("{setter}");
        let duration = arg.to_duration(private);
        quote!(.#setter(#duration))
    };
    let ttl = args.common.ttl.as_ref().map(|ttl| duration("ttl", ttl));
    let refresh = args.refresh.as_ref().map(|(_, r)| duration("refresh", r));
    let tti = args.common.tti.as_ref().map(|tti| duration("tti", tti));
    let fallback = args.fallback.as_ref().map(|(_, f)| duration("fallback", f));
    let capacity = args
        .common
        .capacity
        .as_ref()
        .map(|c| quote_spanned!(c.span()=> .capacity(#c)));
    let weigher = args
        .common
        .weigher
        .as_ref()
        .map(|(_, w)| quote_spanned!(w.span()=> .weigher(#w)));
    // The second layer's options for a tiered cache (Redis's, or the disk backend's with a
    // `path`), else the backend's own; none when every option is the default.
    let local_ttl = args.common.local_ttl.as_ref();
    let store = match &args.common.path {
        Some((_, path)) => Some(quote_spanned!(path.span()=> #private::DiskOptions::new(#path))),
        None if args.url.is_some() || args.timeout.is_some() || local_ttl.is_some() => {
            let url = args
                .url
                .as_ref()
                .map(|url| quote_spanned!(url.span()=> .url(#url)));
            let timeout = args.timeout.as_ref().map(|(_, t)| duration("timeout", t));
            Some(quote!(#private::RedisOptions::new() #url #timeout))
        }
        None => None,
    };
    let backend_options = store.map(|store| {
        if matches!(args.common.backend, Some(BackendArg::Tiered(_))) {
            let local_ttl = local_ttl.map(|(_, t)| duration("local_ttl", t));
            quote!(.backend_options(#private::TieredOptions::new(#store) #local_ttl))
        } else {
            quote!(.backend_options(#store))
        }
    });
    // `cfg!(test)` expands in the user's crate: strict in its own test build only.
    let sandbox = args
        .common
        .sandbox_required
        .map(|span| quote_spanned!(span=> .require_sandbox(::core::cfg!(test))));
    let version = args
        .common
        .version
        .as_ref()
        .map(|v| quote_spanned!(v.span()=> .version(#v)));
    let flight = args.common.distributed_flight.map(|span| {
        let lease = args.common.flight_lease.as_ref().map_or_else(
            || quote!(#private::DEFAULT_FLIGHT_LEASE),
            |(_, lease)| lease.to_duration(private),
        );
        quote_spanned!(span=> .distributed_flight(#lease))
    });
    let options = quote!(#ttl #tti #refresh #fallback #capacity #weigher #backend_options #sandbox #version #flight);
    match (name, options.is_empty()) {
        (None, true) => quote!(at(#id)),
        (Some(name), true) => quote!(named(#id, #name)),
        (name, false) => {
            let name =
                name.unwrap_or_else(|| quote!(::core::concat!(::core::module_path!(), #path)));
            quote!(new(#id, || #private::Cache::builder(#name) #options .build()))
        }
    }
}

/// Binds each argument by name from the owned key `__memokit_key`, as a reload needs them: owned
/// arguments moved out of the key, borrowed ones (`&str`, `&[T]`, `&T`) borrowed from it.
fn rebind_arguments(sig: &Signature) -> TokenStream {
    let args: Vec<&PatType> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(arg) => Some(arg),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let parts: Vec<_> = (0..args.len())
        .map(|i| format_ident!("__memokit_part{i}"))
        .collect();
    let split = match parts.as_slice() {
        [] => return TokenStream::new(),
        [one] => quote!(let #one = __memokit_key;),
        _ => quote!(let (#(#parts,)*) = __memokit_key;),
    };
    let binds = args.iter().zip(&parts).map(|(arg, part)| {
        let pat = &arg.pat;
        match &*arg.ty {
            Type::Reference(reference) => {
                let elem = &reference.elem;
                quote!(let #pat: &#elem = ::core::borrow::Borrow::borrow(&#part);)
            }
            ty => quote!(let #pat: #ty = #part;),
        }
    });
    quote!(#split #(#binds)*)
}
