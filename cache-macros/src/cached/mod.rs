//! `#[cached]`: parse the attribute ([`args`]), validate the function ([`signature`]), expand
//! ([`expand`]).
//!
//! # Design decisions
//!
//! **Where the cache lives.** An attribute cannot tell a free function from a receiver-less
//! associated function, nor an inherent impl from a trait impl. So the body never names an item
//! beside it: it declares its own `static` inside the function, which is valid in every one of
//! those places. The companion constant is plain data with the same id (`memokit::Companion`), not
//! a second static, and the runtime links the two to one cache on first use. The `cached` crate (4.x)
//! meets the same wall: its static sits beside the function unless `in_impl = true` moves it into
//! the body, and then a method gets no companion at all, since a sibling item cannot reach a
//! function-local static. Linking by id is what lets every memoized method keep its handle.
//!
//! **The companion's name.** `cached` names its static after the function in upper case
//! (`fn fetch_user` -> `FETCH_USER`), which collides with the constants people write beside
//! functions (`fn timeout` and `const TIMEOUT`). memokit appends `_MEMO` (`FETCH_USER_MEMO`): one
//! rule, easy to guess, and a name nobody writes by hand. Rust has no name an attribute can mint
//! that a user could not also write, so `companion = NAME` renames it and `companion = false`
//! drops it (trait impls, which cannot hold extra items, need that).
//!
//! **Keys.** The default key borrows the arguments for the lookup so a hit allocates nothing;
//! `key = (a, b)` keeps that for a subset of the arguments. Any other expression needs its type
//! (`key: String = ...`) because a `static`'s type must be written out; that is also what makes a
//! generic function memoizable (one cache for every instantiation, with a concrete key).
//!
//! **Compile time.** The expansion is what every memoized function pays for, so it names no type
//! parameter explicitly and has one closure, the body, which the runtime takes as `&mut dyn`: the
//! call path is compiled once per key and value types, not once per function
//! (`benches/compile-time/run.sh` measures it against `cached`). What is left is mostly the
//! generic cache itself, instantiated once per key and value types.
//!
//! **Per-call control.** `unless` and the per-entry TTL travel into the runtime as a `Rules`
//! value; a companion's "refresh" and "uncached" reach the function's lookup as a thread-local
//! directive, because the handle has no typed path to the body.

mod args;
mod batch;
mod expand;
mod signature;

use proc_macro2::TokenStream;

use crate::diag::function_attribute;
use args::Args;
use batch::Batch;
use signature::Analysis;

/// What a function expands to: a memoized call, or a batch of them.
enum Plan {
    Call(Box<Analysis>),
    /// `None` when the batch signature was rejected (already reported).
    Batch(Option<Box<Batch>>),
}

pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    function_attribute(
        item,
        "`#[cached]` memoizes functions and methods; to declare a cache you call directly, use `#[derive(memokit::Cache)]`",
        |func, diag| {
            let parsed = Args::parse(args, diag);
            let args = diag.recover(parsed);
            args.check(diag);
            let plan = if args.batch.is_some() {
                Plan::Batch(Batch::of(func, &args, diag).map(Box::new))
            } else {
                Plan::Call(Box::new(Analysis::of(func, &args, diag)))
            };
            (args, plan)
        },
        |func, (args, plan)| match plan {
            Plan::Call(analysis) => expand::expand(func, args, *analysis),
            Plan::Batch(Some(batch)) => batch::expand(func, args, *batch),
            Plan::Batch(None) => unreachable!("a rejected batch signature was reported"),
        },
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The expansion of a simple function stays small: one static, two calls into the runtime and
    /// a companion constant of plain data, about thirty lines once formatted (`cargo test -p
    /// memokit-macros -- --nocapture` prints it; `rustc +nightly -Zunpretty=expanded` formats it).
    #[test]
    fn a_simple_function_expands_to_a_static_and_two_calls() {
        let out = super::cached(
            quote!(),
            quote!(
                fn f(a: u64) -> u64 {
                    a * 2
                }
            ),
        );
        println!("{out}");
        let text = out.to_string();
        assert!(!text.contains("compile_error"), "{text}");
        assert_eq!(text.matches("static").count(), 1, "{text}");
        assert_eq!(text.matches("Memo :: enter (").count(), 1);
        assert_eq!(text.matches(":: finish_memoized (").count(), 1);
        assert!(text.contains("const F_MEMO"));
        assert!(!text.contains("::<"), "no turbofish: {text}");
        let tokens = count_tokens(out);
        assert!(tokens < 360, "{tokens} tokens");
    }

    fn count_tokens(tokens: proc_macro2::TokenStream) -> usize {
        tokens
            .into_iter()
            .map(|tree| match tree {
                proc_macro2::TokenTree::Group(group) => 2 + count_tokens(group.stream()),
                _ => 1,
            })
            .sum()
    }
}
