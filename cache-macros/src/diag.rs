//! Collecting errors so that every mistake in an attribute is reported in one compile, and
//! emitting them beside the item so the IDE keeps working.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemFn;

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

    /// The parsed value, or after a syntax error (recorded) `T::default()`, so that validation
    /// still runs and reports what else is wrong.
    pub(crate) fn recover<T: Default>(&mut self, parsed: syn::Result<T>) -> T {
        parsed.unwrap_or_else(|syntax| {
            self.push(syntax);
            T::default()
        })
    }

    /// `Ok(value)` if nothing was reported, else every error at once.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

/// An attribute on a function, start to finish: the item parsed as a function (else the error
/// `not_a_function`, spanned on its first token), `check` parsing the attribute and validating
/// both into one [`Diagnostics`], then `expand` if nothing was reported, else every error and the
/// untouched item.
pub(crate) fn function_attribute<T>(
    item: TokenStream,
    not_a_function: &str,
    check: impl FnOnce(&ItemFn, &mut Diagnostics) -> T,
    expand: impl FnOnce(ItemFn, T) -> TokenStream,
) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new_spanned(item.clone().into_iter().next(), not_a_function);
            return with_item(error, item);
        }
    };
    let mut diag = Diagnostics::default();
    let checked = check(&func, &mut diag);
    match diag.finish(()) {
        Ok(()) => expand(func, checked),
        Err(error) => with_item(error, item),
    }
}

/// The errors followed by the untouched item, so rust-analyzer still sees the function.
fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = error.to_compile_error();
    out.extend(item);
    out
}
