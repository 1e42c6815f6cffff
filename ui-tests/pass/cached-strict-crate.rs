//! A crate that forbids unsafe code, denies missing docs and common lints: the expansion adds no
//! undocumented public item, no unsafe block and nothing a lint flags. Doc comments and other
//! attributes stay on the function.

#![forbid(unsafe_code)]
#![deny(missing_docs, unused, nonstandard_style, rust_2018_idioms, deprecated)]

//! A documented crate.

/// Memoized, documented, inlined, `must_use`: every attribute is kept.
#[memokit::cached(ttl = "10m")]
#[inline]
#[must_use = "the result is the point"]
#[allow(clippy::needless_pass_by_value)]
pub fn documented(text: String) -> usize {
    text.len()
}

/// A public type with a memoized public method.
pub struct Api;

impl Api {
    /// The companion of this method is public and documented too.
    #[memokit::cached]
    pub fn fetch(&self, id: u32) -> Result<u32, String> {
        if id == 0 { Err("zero".into()) } else { Ok(id) }
    }

    /// A receiver-less associated function.
    #[memokit::cached(capacity = 100)]
    pub fn build(id: u32) -> Option<u32> {
        id.checked_mul(2)
    }
}

/// Deprecated items stay deprecated; calling one is the caller's lint, not the expansion's.
#[deprecated = "use documented"]
#[memokit::cached]
pub fn old(x: u8) -> u8 {
    x
}

#[cfg(any())]
#[memokit::cached]
pub fn compiled_out(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(documented("abc".into()), 3);
    assert_eq!(DOCUMENTED_MEMO.len(), 1);
    assert_eq!(Api.fetch(1), Ok(1));
    assert_eq!(Api::FETCH_MEMO.len(), 1);
    assert_eq!(Api::build(2), Some(4));
    assert_eq!(Api::BUILD_MEMO.len(), 1);
}
