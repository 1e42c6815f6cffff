//! Arguments named like the expansion's own locals, a local module named `memokit`, and a module
//! that shadows prelude names the expansion relies on (`Option`, `Some`, `None`, `Result`, `Vec`).

#![deny(unused, nonstandard_style)]

mod memokit {
    /// Only the real crate is reachable as `::memokit`.
    pub fn cached() {}
}

mod shadowing {
    #[allow(dead_code)]
    pub struct Some;
    #[allow(dead_code)]
    pub struct None;
    #[allow(dead_code)]
    pub struct Option;
    #[allow(dead_code)]
    pub struct Vec;
    pub type Result<T> = std::result::Result<T, String>;

    #[::memokit::cached]
    pub fn lookup(key: u32, cache: &str, value: &[u8], memo: u8, probe: bool) -> Result<usize> {
        Ok(key as usize + cache.len() + value.len() + usize::from(memo) + usize::from(probe))
    }

    #[::memokit::cached(key: String = format!("{key}/{cache}"), condition = !probe)]
    pub fn typed(key: u32, cache: &str, probe: bool) -> usize {
        key as usize + cache.len()
    }

    #[::memokit::cached(key = (key, value), unless = |r| r.is_err())]
    pub fn subset(key: u32, value: String, hit: u8) -> Result<u32> {
        let _ = hit;
        Ok(key + value.len() as u32)
    }
}

fn main() {
    memokit::cached();
    assert_eq!(shadowing::lookup(1, "ab", &[1], 2, true), Ok(7));
    assert_eq!(shadowing::lookup(1, "ab", &[1], 2, true), Ok(7));
    assert_eq!(shadowing::LOOKUP_MEMO.stats().hits, 1);
    assert_eq!(shadowing::typed(1, "a", false), 2);
    assert_eq!(shadowing::TYPED_MEMO.len(), 1);
    assert_eq!(shadowing::subset(1, "ab".into(), 0), Ok(3));
    assert_eq!(shadowing::SUBSET_MEMO.len(), 1);
}
