//! Validating a function against `#[cached]`: which arguments form the key and how, and which
//! results are cached. Every problem is reported on the token at fault.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::{
    Expr, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Signature, Type, TypeReference,
};

use super::args::{Args, KeyArg as KeyOption};
use crate::diag::Diagnostics;

/// One argument's part of the key.
pub(crate) struct KeyArg {
    /// The owned type stored in the key (`String` for `&str`, `Option<String>` for
    /// `Option<&str>`).
    pub(crate) owned: Type,
    /// An expression looking the part up without cloning it: a `memokit::key::KeyPart` of
    /// `owned`.
    pub(crate) borrowed: TokenStream,
    /// Whether `borrowed` is a reference `&Q` to something equivalent to `owned`, which a cache
    /// looks up by as it is; other parts go inside a `KeyRef`.
    pub(crate) is_ref: bool,
}

/// How the key is made.
pub(crate) enum Key {
    /// From arguments (all of them by default, or those `key = (a, b)` names), looked up by their
    /// borrowed forms so a hit allocates nothing.
    Parts(Vec<KeyArg>),
    /// From `key: Type = <expr>`, evaluated on every call.
    Typed { ty: Box<Type>, expr: Box<Expr> },
}

/// Which results are cached, as the runtime's policy type names it.
#[derive(Clone, Copy)]
pub(crate) enum Policy {
    Whole,
    OkOnly,
    SomeOnly,
}

/// What the expansion needs to know about the function.
pub(crate) struct Analysis {
    pub(crate) key: Key,
    pub(crate) ret: Type,
    pub(crate) policy: Policy,
    /// The return type is `Cached<T>`: `policy` is `T`'s, and a hit says it was cached.
    pub(crate) flagged: bool,
}

impl Analysis {
    pub(crate) fn of(func: &ItemFn, args: &Args, diag: &mut Diagnostics) -> Self {
        let sig = &func.sig;
        let private = crate::paths::private(args.common.krate.as_ref());
        let generics = check_signature(sig, args, diag);
        // memokit's `tokio` feature turns this crate's on: without it an async reload could only
        // be awaited by the caller that found the entry stale, silently.
        if let (Some((refresh, _)), Some(_), false) =
            (&args.refresh, sig.asyncness, cfg!(feature = "tokio"))
        {
            diag.error(
                refresh,
                "`refresh` on an `async fn` reloads in a Tokio task: enable memokit's `tokio` feature (`features = [\"tokio\"]` on the memokit dependency), or drop `refresh`",
            );
        }
        let mut named = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver) => {
                    if args.refresh.is_some() {
                        diag.error(
                            receiver,
                            "`refresh` reloads in the background from the key alone, and `self` is not part of the key: memoize a free function taking what it needs",
                        );
                    }
                    if receiver.mutability.is_some() && receiver.reference.is_some() {
                        diag.error(
                            receiver,
                            "`#[cached]` can't memoize a `&mut self` method: a hit would skip the body's changes to `self`; take `&self`",
                        );
                    }
                }
                FnArg::Typed(arg) => {
                    if let Type::Reference(TypeReference {
                        mutability: Some(_),
                        ..
                    }) = &*arg.ty
                    {
                        diag.error(
                            &arg.ty,
                            "a `&mut` argument can't be part of a cache key: a hit would skip the body's changes to it; take `&T` or `T`",
                        );
                        continue;
                    }
                    let plain_ref =
                        matches!(&*arg.ty, Type::Reference(r) if !contains_reference(&r.elem));
                    if args.refresh.is_some() && contains_reference(&arg.ty) && !plain_ref {
                        diag.error(
                            &arg.ty,
                            "`refresh` rebuilds the arguments from the owned key, which it can't do for references inside a container: take the owned form (`Option<String>`, `Vec<String>`)",
                        );
                    }
                    match &*arg.pat {
                        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                            named.push((&pat.ident, &*arg.ty));
                        }
                        pat if args.key.is_none() && args.once.is_none() => diag.error(
                            pat,
                            "`#[cached]` builds the key from argument names: bind this argument to a plain name, or give a `key`",
                        ),
                        _ => {}
                    }
                }
            }
        }
        let key = match &args.key {
            None if args.once.is_some() => Key::Parts(Vec::new()),
            // A generic function without a `key` was told to add one; its arguments' mentions of
            // the generics would only repeat that.
            None => Key::Parts(
                named
                    .iter()
                    .filter_map(|(ident, ty)| key_arg(ident, ty, &[], &private, diag))
                    .collect(),
            ),
            Some((_, KeyOption::Args(names))) => {
                let mut parts = Vec::new();
                for name in names {
                    if name == "self" {
                        diag.error(
                            name,
                            "the receiver can't be a key part (the key outlives it); key by what identifies it: `key: u64 = self.id`",
                        );
                    } else if let Some((ident, ty)) = named.iter().find(|(ident, _)| *ident == name)
                    {
                        parts.extend(key_arg(ident, ty, &generics, &private, diag));
                    } else {
                        let known: Vec<String> =
                            named.iter().map(|(ident, _)| ident.to_string()).collect();
                        diag.error(
                            name,
                            format!(
                                "`key` names `{name}`, which is not an argument; the arguments are: {}",
                                known.join(", ")
                            ),
                        );
                    }
                }
                Key::Parts(parts)
            }
            Some((_, KeyOption::Typed { ty, expr })) => {
                check_owned(ty, "the key type", diag);
                check_generic(ty, &generics, "the key type", diag);
                Key::Typed {
                    ty: ty.clone(),
                    expr: expr.clone(),
                }
            }
        };
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => {
                check_owned(ty, "the return type", diag);
                check_generic(ty, &generics, "the return type", diag);
                (**ty).clone()
            }
            ReturnType::Default => {
                diag.error(
                    &sig.ident,
                    "`#[cached]` on a function that returns nothing: there is no result to cache",
                );
                syn::parse_quote!(())
            }
        };
        if matches!(&ret, Type::Tuple(unit) if unit.elems.is_empty()) {
            for (option, _) in [&args.unless, &args.ttl_from].into_iter().flatten() {
                diag.error(
                    option,
                    format!("`{option}` looks at the result, but this function returns `()`"),
                );
            }
        }
        let (flagged, inner) = match cached_flag(&ret) {
            Some(inner) => (true, inner),
            None => (false, &ret),
        };
        let policy = policy(inner, args, diag);
        Self {
            key,
            ret,
            policy,
            flagged,
        }
    }
}

/// Reports what can't be memoized about the signature; returns the names of the type and const
/// parameters, which no part of the static cache may mention.
pub(super) fn check_signature(sig: &Signature, args: &Args, diag: &mut Diagnostics) -> Vec<Ident> {
    if let Some(constness) = &sig.constness {
        diag.error(
            constness,
            "`#[cached]` can't apply to a `const fn`: a cache is runtime state",
        );
    }
    if let Some(variadic) = &sig.variadic {
        diag.error(variadic, "`#[cached]` can't memoize a variadic function");
    }
    let mut generics = Vec::new();
    for param in &sig.generics.params {
        let ident = match param {
            GenericParam::Lifetime(_) => continue,
            GenericParam::Type(ty) => &ty.ident,
            GenericParam::Const(c) => &c.ident,
        };
        if args.key.is_none() && args.once.is_none() && args.batch.is_none() {
            diag.error(
                param,
                format!(
                    "a generic function needs a `key`: its cache is one static shared by every `{ident}`, so name a key of a concrete type, like `key: String = x.to_string()`"
                ),
            );
        }
        generics.push(ident.clone());
    }
    generics
}

/// Reports a mention of a generic parameter in a type the static cache stores.
pub(super) fn check_generic(ty: &Type, generics: &[Ident], what: &str, diag: &mut Diagnostics) {
    struct Finder<'a> {
        generics: &'a [Ident],
        what: &'a str,
        diag: &'a mut Diagnostics,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if let Some(first) = path.segments.first()
                && self.generics.contains(&first.ident)
            {
                self.diag.error(
                    &first.ident,
                    format!(
                        "{} depends on the generic `{}`, but the cache is one static for every instantiation: use a concrete type",
                        self.what, first.ident
                    ),
                );
            }
            syn::visit::visit_path(self, path);
        }
    }
    if !generics.is_empty() {
        Finder {
            generics,
            what,
            diag,
        }
        .visit_type(ty);
    }
}

fn key_arg(
    ident: &Ident,
    ty: &Type,
    generics: &[Ident],
    private: &TokenStream,
    diag: &mut Diagnostics,
) -> Option<KeyArg> {
    if let Type::ImplTrait(impl_trait) = ty {
        diag.error(
            impl_trait,
            format!(
                "an `impl Trait` argument can't be part of the key (the cache needs one concrete key type): give a `key` that leaves `{ident}` out, or derive one from it, like `key: String = {ident}.to_string()`"
            ),
        );
        return None;
    }
    check_generic(ty, generics, "a key argument", diag);
    if !contains_reference(ty) {
        check_owned(ty, "a key argument", diag);
        return Some(KeyArg {
            owned: ty.clone(),
            borrowed: quote!(&#ident),
            is_ref: true,
        });
    }
    match key_part(ident.to_token_stream(), ty, private) {
        Some((owned, borrowed)) => Some(KeyArg {
            owned,
            is_ref: matches!(ty, Type::Reference(_)),
            borrowed,
        }),
        None => {
            diag.error(
                ty,
                format!(
                    "`#[cached]` keys borrowed arguments by their owned forms (`&T`, `&str`, `&[T]`, `Option<&T>`, `&[&str]`, `Vec<&str>`, tuples of those), not this type: give a `key`, like `key: String = {ident}.to_string()`"
                ),
            );
            None
        }
    }
}

/// The owned form of a type containing references, and an expression of it (`expr`) as a key
/// part looking the owned form up; `None` for shapes memokit has no borrowed lookup for.
fn key_part(expr: TokenStream, ty: &Type, private: &TokenStream) -> Option<(Type, TokenStream)> {
    if !contains_reference(ty) {
        return Some((ty.clone(), quote!(&#expr)));
    }
    if let Some(owned) = direct_part(ty) {
        return Some((owned, expr));
    }
    match ty {
        Type::Reference(reference) => match &*reference.elem {
            Type::Slice(slice) => {
                let owned = direct_part(&slice.elem)?;
                Some((
                    syn::parse_quote!(::std::vec::Vec<#owned>),
                    quote!(#private::Slice(#expr)),
                ))
            }
            _ => None,
        },
        Type::Tuple(tuple) => {
            let (owned, parts): (Vec<_>, Vec<_>) = tuple
                .elems
                .iter()
                .enumerate()
                .map(|(i, elem)| {
                    let i = syn::Index::from(i);
                    key_part(quote!(#expr.#i), elem, private)
                })
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .unzip();
            Some((syn::parse_quote!((#(#owned,)*)), quote!((#(#parts,)*))))
        }
        ty => {
            let item = single_generic(ty, "Vec")?;
            let owned = direct_part(item)?;
            Some((
                syn::parse_quote!(::std::vec::Vec<#owned>),
                quote!(#private::Slice(#expr.as_slice())),
            ))
        }
    }
}

/// The owned form of a type that is a key part as it is: a reference to an owned type (`&str`,
/// `&T`, `&[T]`), or an `Option` or tuple of such parts.
fn direct_part(ty: &Type) -> Option<Type> {
    match ty {
        Type::Reference(reference) if !contains_reference(&reference.elem) => {
            Some(owned_form(&reference.elem))
        }
        Type::Tuple(tuple) if !tuple.elems.is_empty() => {
            let owned = tuple
                .elems
                .iter()
                .map(direct_part)
                .collect::<Option<Vec<_>>>()?;
            Some(syn::parse_quote!((#(#owned,)*)))
        }
        ty => {
            let inner = direct_part(single_generic(ty, "Option")?)?;
            Some(syn::parse_quote!(::core::option::Option<#inner>))
        }
    }
}

/// `T` of a type written `Name<T>` (with any path before `Name`).
fn single_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if path.qself.is_some() || last.ident != name {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a type mentions a reference anywhere.
fn contains_reference(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, _: &'ast TypeReference) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// The owned type a borrowed argument is keyed by: `str` -> `String`, `[T]` -> `Vec<T>`,
/// `Path` -> `PathBuf`, `OsStr` -> `OsString`, anything else `T` -> `T` (by `Clone`).
fn owned_form(elem: &Type) -> Type {
    if let Type::Slice(slice) = elem {
        let item = &slice.elem;
        return syn::parse_quote!(::std::vec::Vec<#item>);
    }
    if let Type::Path(path) = elem
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.arguments.is_none()
    {
        match last.ident.to_string().as_str() {
            "str" => return syn::parse_quote!(::std::string::String),
            "Path" => return syn::parse_quote!(::std::path::PathBuf),
            "OsStr" => return syn::parse_quote!(::std::ffi::OsString),
            _ => {}
        }
    }
    elem.clone()
}

/// Reports borrowed or unnameable parts of a type that must live in a static cache.
pub(super) fn check_owned(ty: &Type, what: &str, diag: &mut Diagnostics) {
    struct Finder<'a> {
        what: &'a str,
        diag: &'a mut Diagnostics,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
            self.diag.error(
                node,
                format!(
                    "`impl Trait` in {} has no name the cache can store; use a concrete type",
                    self.what
                ),
            );
        }
        fn visit_type_reference(&mut self, node: &'ast TypeReference) {
            if node.lifetime.as_ref().is_none_or(|l| l.ident != "static") {
                self.diag.error(
                    node,
                    format!(
                        "{} borrows data, but the cache outlives the call: use an owned type (`String`, `Vec<T>`, `Arc<T>`)",
                        self.what
                    ),
                );
            }
            syn::visit::visit_type_reference(self, node);
        }
        fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
            if node.ident != "static" {
                self.diag.error(
                    node,
                    format!("{} borrows data (`{node}`), but the cache outlives the call: use an owned type", self.what),
                );
            }
        }
        fn visit_ident(&mut self, node: &'ast Ident) {
            if node == "Self" {
                self.diag.error(
                    node,
                    format!(
                        "the cache is a static and can't name `Self` in {}: write the type's name",
                        self.what
                    ),
                );
            }
        }
    }
    Finder { what, diag }.visit_type(ty);
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// `T` of a return type `Cached<T>` (`memokit::Cached`, under any path).
fn cached_flag(ret: &Type) -> Option<&Type> {
    match ret {
        Type::Group(group) => cached_flag(&group.elem),
        Type::Paren(paren) => cached_flag(&paren.elem),
        ty => single_generic(ty, "Cached"),
    }
}

fn policy(ret: &Type, args: &Args, diag: &mut Diagnostics) -> Policy {
    let last = last_segment(ret);
    let is = |name: &str| last.as_deref() == Some(name);
    // With both flags, `Args::check` already reported the conflict.
    let both = args.cache_err.is_some() && args.cache_none.is_some();
    if let Some(flag) = &args.cache_err
        && !both
        && !is("Result")
    {
        diag.error(flag, "`cache_err` applies to functions returning `Result`");
    }
    if let Some(flag) = &args.cache_none
        && !both
        && !is("Option")
    {
        diag.error(flag, "`cache_none` applies to functions returning `Option`");
    }
    if let Some((fallback, _)) = &args.fallback
        && !is("Result")
    {
        diag.error(
            fallback,
            "`fallback` answers an `Err` with the value kept past its `ttl`: it applies to functions returning `Result`",
        );
    }
    if is("Result") && args.cache_err.is_none() {
        Policy::OkOnly
    } else if is("Option") && args.cache_none.is_none() {
        Policy::SomeOnly
    } else {
        Policy::Whole
    }
}
