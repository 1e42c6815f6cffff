//! Collecting errors so that every mistake in an attribute is reported in one compile.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Accumulates `syn::Error`s; [`Diagnostics::finish`] combines them.
#[derive(Default)]
pub(crate) struct Diagnostics {
    errors: Option<syn::Error>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(span, message));
    }

    /// `Ok(value)` if nothing was reported, else every error at once.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

/// The errors followed by the untouched item, so rust-analyzer still sees the function.
pub(crate) fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = error.to_compile_error();
    out.extend(item);
    out
}
