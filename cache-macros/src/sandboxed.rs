//! `#[sandboxed]`: runs a function (a test, usually) inside a fresh sandbox.
//!
//! Parse, validate and expand are a few lines each, so they share this file.
//!
//! * A sync function gets `let __memokit_sandbox = sandbox();` before its body: the guard enters
//!   the sandbox on the calling thread and tears it down when the function returns or unwinds.
//! * An async function's body becomes a future wrapped by `SandboxHandle::wrap`, which enters the
//!   sandbox around every poll. A guard held across `.await` would be wrong as soon as a
//!   multi-thread runtime moves the future to another worker.
//!
//! Either way it composes with `#[test]` and `#[tokio::test]` in any order: written above
//! `#[tokio::test]` it sees the async fn and wraps its body; written below, it sees the sync fn
//! `tokio::test` generated, and the guard covers the runtime's `block_on`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, ItemFn, Path, Token};

use crate::diag::{Diagnostics, function_attribute};

pub(crate) fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    function_attribute(
        item,
        "`#[memokit::sandboxed]` goes on a function, usually a `#[test]`; inside other code write `let _sb = memokit::sandbox();`",
        |func, diag| {
            let parsed = parse_args(args, diag);
            let krate = diag.recover(parsed);
            if let Some(constness) = &func.sig.constness {
                diag.error(
                    constness,
                    "`#[memokit::sandboxed]` can't apply to a `const fn`: entering a sandbox happens at run time",
                );
            }
            krate
        },
        expand,
    )
}

/// `crate = path` is the only option, for re-exports of memokit under another name.
fn parse_args(args: TokenStream, diag: &mut Diagnostics) -> syn::Result<Option<Path>> {
    let parser = |input: ParseStream| {
        let mut krate = None;
        while !input.is_empty() {
            let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            input.parse::<Token![=]>()?;
            if name != "crate" {
                diag.error(
                    &name,
                    format!(
                        "unknown option `{name}`: `#[memokit::sandboxed]` takes only `crate = path`"
                    ),
                );
                input.parse::<Expr>()?;
            } else {
                if krate.is_some() {
                    diag.error(&name, "duplicate option `crate`: give it once");
                }
                krate = Some(input.call(Path::parse_mod_style)?);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(krate)
    };
    parser.parse2(args)
}

fn expand(func: ItemFn, krate: Option<Path>) -> TokenStream {
    let private = crate::paths::private(krate.as_ref());
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let body = if sig.asyncness.is_some() {
        quote! {
            #private::SandboxHandle::new().wrap(async move #block).await
        }
    } else {
        quote! {
            let __memokit_sandbox = #private::sandbox();
            #block
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}
