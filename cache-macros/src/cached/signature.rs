//! Validating a function against `#[cached]`: which arguments form the key and how, and which
//! results are cached. Every problem is reported on the token at fault.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::{FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Signature, Type, TypeReference};

use super::args::Args;
use crate::diag::Diagnostics;

/// One argument's part of the key.
pub(crate) struct KeyArg {
    /// The owned type stored in the key (`String` for `&str`).
    pub(crate) owned: Type,
    /// An expression of type `&Q` looking the part up without cloning it.
    pub(crate) borrowed: TokenStream,
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
    pub(crate) keys: Vec<KeyArg>,
    pub(crate) ret: Type,
    pub(crate) policy: Policy,
    /// Whether it is a method, so the companion constant is reached as `Self::NAME`.
    pub(crate) method: bool,
}

impl Analysis {
    pub(crate) fn of(func: &ItemFn, args: &Args, diag: &mut Diagnostics) -> Self {
        let sig = &func.sig;
        check_signature(sig, diag);
        let mut method = false;
        let mut keys = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver) => {
                    method = true;
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
                    let Pat::Ident(pat) = &*arg.pat else {
                        diag.error(&arg.pat, "`#[cached]` builds the key from argument names: bind this argument to a plain name");
                        continue;
                    };
                    if pat.by_ref.is_some() || pat.subpat.is_some() {
                        diag.error(&arg.pat, "`#[cached]` builds the key from argument names: bind this argument to a plain name");
                        continue;
                    }
                    if let Some(key) = key_arg(&pat.ident, &arg.ty, diag) {
                        keys.push(key);
                    }
                }
            }
        }
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => {
                check_owned(ty, "the return type", diag);
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
        let policy = policy(&ret, args, diag);
        Self {
            keys,
            ret,
            policy,
            method,
        }
    }
}

fn check_signature(sig: &Signature, diag: &mut Diagnostics) {
    if let Some(constness) = &sig.constness {
        diag.error(
            constness,
            "`#[cached]` can't apply to a `const fn`: a cache is runtime state",
        );
    }
    if let Some(variadic) = &sig.variadic {
        diag.error(variadic, "`#[cached]` can't memoize a variadic function");
    }
    for param in &sig.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            diag.error(
                param,
                "`#[cached]` can't memoize a generic function: its cache is one static, which can't depend on a type parameter; write a concrete function",
            );
        }
    }
}

fn key_arg(ident: &Ident, ty: &Type, diag: &mut Diagnostics) -> Option<KeyArg> {
    let Type::Reference(TypeReference {
        mutability, elem, ..
    }) = ty
    else {
        check_owned(ty, "a key argument", diag);
        return Some(KeyArg {
            owned: ty.clone(),
            borrowed: quote!(&#ident),
        });
    };
    if mutability.is_some() {
        diag.error(
            ty,
            "a `&mut` argument can't be part of a cache key: a hit would skip the body's changes to it; take `&T` or `T`",
        );
        return None;
    }
    check_owned(elem, "a key argument", diag);
    let owned = owned_form(elem);
    Some(KeyArg {
        owned,
        borrowed: ident.to_token_stream(),
    })
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
fn check_owned(ty: &Type, what: &str, diag: &mut Diagnostics) {
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

fn policy(ret: &Type, args: &Args, diag: &mut Diagnostics) -> Policy {
    let last = last_segment(ret);
    let is = |name: &str| last.as_deref() == Some(name);
    if let Some(flag) = &args.cache_err
        && !is("Result")
    {
        diag.error(flag, "`cache_err` applies to functions returning `Result`");
    }
    if let Some(flag) = &args.cache_none
        && !is("Option")
    {
        diag.error(flag, "`cache_none` applies to functions returning `Option`");
    }
    if is("Result") && args.cache_err.is_none() {
        Policy::OkOnly
    } else if is("Option") && args.cache_none.is_none() {
        Policy::SomeOnly
    } else {
        Policy::Whole
    }
}
