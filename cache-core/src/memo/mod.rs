//! Macro support for `#[cached]`: [`Memo`], the cache behind one memoized function and the
//! companion handle users hold, and the call path the expansion goes through.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | [`Memo`]: the static, built on first use and linked by id |
//! | `directive.rs` | per-call directives: "skip the cache", "reload this key now" |
//! | `companion.rs` | the companion handle's operations |
//! | `rules.rs` | a function's own rules for storing a result (`unless`, per-entry TTL) |
//! | `call.rs` | the call path: probe, load on a miss, refresh a stale hit |
//!
//! # Design: one cache, two statics, linked by id
//!
//! `#[cached]` has to give the function body and the companion handle the same cache, from code
//! that cannot name each other reliably: a body in a free function reaches a sibling constant as
//! `NAME`, a body in an `impl` block needs `Self::NAME`, and an attribute cannot tell the two apart
//! (a receiver-less associated function looks exactly like a free function), nor add an item to a
//! trait impl at all. So the body keeps its own `static` inside the function, which works
//! everywhere, and the companion constant keeps another; both carry the same id, made by the
//! macro from the module path, the function name and its source position, and
//! the first of the two to be used builds the cache and publishes it under that id, where the
//! other finds it. The lookup happens once per static (a [`OnceLock`](std::sync::OnceLock) caches it), so the hit path
//! pays one atomic load, as a `LazyLock` would.
//!
//! Memos whose ids match but whose key, value or backend types differ (which the macro never
//! produces) do not share: each builds its own cache instead of failing.

mod call;
mod companion;
mod directive;
mod handle;
mod rules;

pub use call::{Probe, Value, load, load_async, probe, probe_async, refresh, refresh_async};
pub use handle::Memo;
pub use rules::{FnRules, NoRules, no_ttl, no_unless};
