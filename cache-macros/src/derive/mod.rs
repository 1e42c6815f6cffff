//! `#[derive(Cache)]`: parse the `#[cache(...)]` attribute ([`args`]), validate the item and the
//! options ([`validate`]), expand ([`expand`]).

mod args;
mod expand;
mod validate;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::diag::Diagnostics;
use args::ModuleArgs;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut diag = Diagnostics::default();
    let args = ModuleArgs::from_attrs(&input.attrs, &mut diag);
    let module = validate::validate(&input, args, &mut diag);
    match (diag.finish(()), module) {
        (Ok(()), Some(module)) => expand::expand(&module, false),
        (Err(error), module) => {
            // A derive cannot re-emit its item; emitting the module's functions (unimplemented)
            // beside the errors keeps calls to them from adding errors of their own.
            let mut out = error.to_compile_error();
            out.extend(module.map(|m| expand::expand(&m, true)));
            out
        }
        // `validate` returns no module only after reporting why.
        (Ok(()), None) => TokenStream::new(),
    }
}
