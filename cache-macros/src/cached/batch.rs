//! `#[cached(batch)]`: a function from a list of ids to a map of values, memoized per id
//! (DataLoader-style). The function takes one argument besides an optional receiver, the ids
//! (`&[Id]` or `Vec<Id>`), and returns a map keyed by them (`HashMap<Id, V>` or
//! `Result<HashMap<Id, V>, E>`, or a `BTreeMap`). The cache is keyed by `Id` and stores `V`, so
//! the companion handle invalidates and primes single ids. The value type is read off the return
//! type, so the static names it; a map keyed by anything but the ids is one error, at the return
//! type, from the runtime's bound.
//!
//! The expansion hands the runtime (`memokit::__private::batch`) the ids and the body as a closure
//! of the missing ids; the runtime looks every id up, runs the body with the rest and merges.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, PatIdent, ReturnType, Type};

use super::args::Args;
use super::expand::{companion, memo_init};
use super::signature::{check_generic, check_owned, check_signature};
use crate::diag::Diagnostics;
use crate::paths::respan;

/// How the ids are passed.
enum Ids {
    /// `ids: &[Id]`.
    Slice,
    /// `ids: Vec<Id>`.
    Vec,
}

/// What the expansion needs to know about a batch function.
pub(crate) struct Batch {
    /// The ids argument's name and its pattern as written (`mut ids`).
    ids: Ident,
    pattern: PatIdent,
    shape: Ids,
    /// The id type: the cache's key.
    id: Type,
    /// The return type (the future's output, for an `async fn`).
    ret: Type,
    /// The value type: the map's second parameter.
    value: Type,
}

impl Batch {
    pub(crate) fn of(func: &ItemFn, args: &Args, diag: &mut Diagnostics) -> Option<Self> {
        let sig = &func.sig;
        let generics = check_signature(sig, args, diag);
        if let Some(param) = generics.first() {
            diag.error(
                param,
                "a `batch` function can't be generic: its cache is one static keyed by one id type",
            );
        }
        let mut typed = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver)
                    if receiver.mutability.is_some() && receiver.reference.is_some() =>
                {
                    diag.error(
                        receiver,
                        "`#[cached]` can't memoize a `&mut self` method: a hit would skip the body's changes to `self`; take `&self`",
                    );
                }
                FnArg::Receiver(_) => {}
                FnArg::Typed(arg) => typed.push(arg),
            }
        }
        let arg = match typed.as_slice() {
            [arg] => *arg,
            _ => {
                let at = typed
                    .get(1)
                    .map_or_else(|| sig.ident.span(), |arg| arg.span());
                diag.push(syn::Error::new(
                    at,
                    "a `batch` function takes one argument, its ids (`ids: &[Id]` or `ids: Vec<Id>`), which are the whole key; move other inputs into `self` or a static",
                ));
                return None;
            }
        };
        let pattern = match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.clone(),
            pat => {
                diag.error(pat, "bind the ids to a plain name: `ids: &[Id]`");
                return None;
            }
        };
        let (shape, id) = match ids_type(&arg.ty) {
            Some(found) => found,
            None => {
                diag.error(
                    &arg.ty,
                    "a `batch` function takes its ids as `&[Id]` or `Vec<Id>`, with `Id` the key each value is cached under",
                );
                return None;
            }
        };
        check_owned(&id, "the id type", diag);
        check_generic(&id, &generics, "the id type", diag);
        const RETURNS: &str = "a `batch` function returns a map from each id to its value: `HashMap<Id, V>` or `Result<HashMap<Id, V>, E>` (or a `BTreeMap`)";
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => {
                check_owned(ty, "the return type", diag);
                (**ty).clone()
            }
            ReturnType::Default => {
                diag.error(&sig.ident, RETURNS);
                return None;
            }
        };
        let Some(value) = map_value(&ret) else {
            diag.error(&ret, RETURNS);
            return None;
        };
        check_generic(&value, &generics, "the value type", diag);
        Some(Self {
            ids: pattern.ident.clone(),
            pattern,
            shape,
            id,
            ret,
            value,
        })
    }
}

/// `V` of `HashMap<_, V, ..>` or `BTreeMap<_, V>`, bare or as the `Ok` of a `Result`.
fn map_value(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else {
        return match ty {
            Type::Group(group) => map_value(&group.elem),
            Type::Paren(paren) => map_value(&paren.elem),
            _ => None,
        };
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(generic) = &last.arguments else {
        return None;
    };
    let types: Vec<&Type> = generic
        .args
        .iter()
        .filter_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match (last.ident.to_string().as_str(), types.as_slice()) {
        ("Result", [ok, ..]) => map_value(ok),
        ("HashMap" | "BTreeMap", [_, value, ..]) => Some((*value).clone()),
        _ => None,
    }
}

/// `(shape, Id)` of `&[Id]` or `Vec<Id>`.
fn ids_type(ty: &Type) -> Option<(Ids, Type)> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_none() => match &*reference.elem {
            Type::Slice(slice) => Some((Ids::Slice, (*slice.elem).clone())),
            _ => None,
        },
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            match &last.arguments {
                syn::PathArguments::AngleBracketed(generic)
                    if last.ident == "Vec" && generic.args.len() == 1 =>
                {
                    match &generic.args[0] {
                        syn::GenericArgument::Type(id) => Some((Ids::Vec, id.clone())),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        Type::Group(group) => ids_type(&group.elem),
        Type::Paren(paren) => ids_type(&paren.elem),
        _ => None,
    }
}

pub(crate) fn expand(mut func: ItemFn, args: Args, batch: Batch) -> TokenStream {
    let private = crate::paths::private(args.common.krate.as_ref());
    let Batch {
        ids,
        mut pattern,
        shape,
        id,
        ret,
        value,
    } = batch;
    let (id_ty, value_ty) = (quote!(#id), quote!(#value));
    let backend_ty = args
        .common
        .backend_type(&private, &id_ty, &value_ty)
        .map(|b| quote!(, #b));
    let types = quote!(#id, #value #backend_ty);
    let companion = companion(&func, &args, &private, types.clone());
    let fn_name = func.sig.ident.to_string();
    let init = memo_init(&func, &args, &private, fn_name.trim_start_matches("r#"));

    // The body sees the missing ids under the argument's own pattern (`mut ids` stays mutable
    // there); the outer argument is only lent to the runtime, so it drops its `mut`.
    let (ids_ty, all_ids, rebind) = match shape {
        Ids::Slice => (quote!(&[#id]), quote!(#ids), quote!(&__memokit_ids)),
        Ids::Vec => (
            quote!(::std::vec::Vec<#id>),
            quote!(::core::convert::AsRef::<[#id]>::as_ref(&#ids)),
            quote!(__memokit_ids),
        ),
    };
    let body_binding = pattern.to_token_stream();
    pattern.mutability = None;
    for input in &mut func.sig.inputs {
        if let FnArg::Typed(arg) = input {
            *arg.pat = Pat::Ident(pattern.clone());
        }
    }
    let block = &func.block;
    // Spanned at the return type, where a map keyed by another type than the ids is reported;
    // the runtime's path too, or the call's span would fall back to the attribute.
    let private = respan(private, ret.span());
    let call = if func.sig.asyncness.is_some() {
        quote_spanned! {ret.span()=>
            #private::batch_async(&__MEMOKIT_MEMO, #all_ids, move |__memokit_ids: ::std::vec::Vec<#id>| async move {
                let #body_binding: #ids_ty = #rebind;
                #block
            }).await
        }
    } else {
        quote_spanned! {ret.span()=>
            #private::batch(&__MEMOKIT_MEMO, #all_ids, &mut move |__memokit_ids: ::std::vec::Vec<#id>| -> #ret {
                let #body_binding: #ids_ty = #rebind;
                #block
            })
        }
    };
    let ItemFn {
        attrs, vis, sig, ..
    } = &func;
    quote! {
        #companion

        #(#attrs)*
        #vis #sig {
            static __MEMOKIT_MEMO: #private::Memo<#types> = #private::Memo::#init;
            #call
        }
    }
}
