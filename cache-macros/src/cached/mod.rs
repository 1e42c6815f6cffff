//! `#[cached]`: parse the attribute ([`args`]), validate the function ([`signature`]), expand
//! ([`expand`]).

mod args;
mod expand;
mod signature;

use proc_macro2::TokenStream;
use syn::ItemFn;

use crate::diag::{Diagnostics, with_item};
use args::Args;
use signature::Analysis;

pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new_spanned(
                item.clone().into_iter().next(),
                "`#[cached]` memoizes functions and methods; to declare a cache you call directly, use `#[derive(memokit::Cache)]`",
            );
            return with_item(error, item);
        }
    };
    let mut diag = Diagnostics::default();
    let args = match Args::parse(args, &mut diag) {
        Ok(args) => args,
        Err(syntax) => {
            diag.push(syntax);
            Args::default()
        }
    };
    let analysis = Analysis::of(&func, &args, &mut diag);
    match diag.finish(()) {
        Ok(()) => expand::expand(func, args, analysis),
        Err(error) => with_item(error, item),
    }
}
