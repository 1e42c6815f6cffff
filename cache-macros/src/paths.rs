//! The one path generated code names: `::memokit::__private`, or `<crate = path>::__private` when
//! the user re-exports memokit under another name (serde's `#[serde(crate = "...")]`).

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::quote;
use syn::Path;

/// The path of memokit's hidden module, from the macro's `crate = path` option if given.
pub(crate) fn private(krate: Option<&Path>) -> TokenStream {
    let krate = krate.map_or_else(|| quote!(::memokit), |path| quote!(#path));
    quote!(#krate::__private)
}

/// `tokens` with every span set to `span`, groups included, so that an error about the whole
/// type or call points there (at a token of the user's).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            }
            tree.set_span(span);
            tree
        })
        .collect()
}
