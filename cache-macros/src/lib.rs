//! Procedural macros of [memokit](https://docs.rs/memokit). Use them through the `memokit`
//! facade: `#[memokit::cached]` and `#[derive(memokit::Cache)]`; the documentation lives there.
//!
//! Every macro works in three steps, one module each: parse the attribute into a typed struct,
//! validate it against the item, expand. Mistakes are `syn::Error`s spanned on the token at fault,
//! all reported at once, and the original item is emitted beside them so the IDE keeps working.

mod cached;
mod derive;
mod diag;
mod duration;
mod options;
mod paths;
mod sandboxed;

use proc_macro::TokenStream;

/// Memoizes a function. See `memokit::cached` for the options and examples.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    cached::cached(args.into(), item.into()).into()
}

/// Declares a cache module: a unit struct whose associated functions (`get`, `insert`, `remove`,
/// `get_or_insert_with`, `clear`, `stats`, `backend()`, ...) use one lazily built cache. See
/// `memokit::Cache` (the derive) for the options and examples.
#[proc_macro_derive(Cache, attributes(cache))]
pub fn derive_cache(item: TokenStream) -> TokenStream {
    derive::derive(item.into()).into()
}

/// Runs a function, usually a test, in a fresh sandbox. See `memokit::sandboxed` for examples.
#[proc_macro_attribute]
pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    sandboxed::sandboxed(args.into(), item.into()).into()
}
