//! The one path generated code names: `::memokit::__private`, or `<crate = path>::__private` when
//! the user re-exports memokit under another name (serde's `#[serde(crate = "...")]`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::Path;

/// The path of memokit's hidden module, from the macro's `crate = path` option if given.
pub(crate) fn private(krate: Option<&Path>) -> TokenStream {
    let krate = krate.map_or_else(|| quote!(::memokit), |path| quote!(#path));
    quote!(#krate::__private)
}
