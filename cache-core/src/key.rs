//! Keys: looking up by a borrowed form, and building the owned key only on a miss.
//!
//! A cache keyed by `String` must answer `get("alice")` without allocating, and a memoized
//! `fn f(name: &str, page: u32)` keyed by `(String, u32)` must answer a hit for `("alice", 3)`
//! without building a `String`. `Borrow` covers the first case but not the second: no
//! `(&str, &u32)` can be borrowed out of a `(String, u32)`. memokit follows hashbrown and
//! indexmap and looks up by any `Q` that is [`Equivalent`] to the key and hashes the same way,
//! and adds [`KeyRef`], a wrapper over a tuple of references that is equivalent to the tuple of
//! their owned forms. Because a tuple hashes as its fields in order, `KeyRef((&"a", &3))` hashes
//! exactly like `("a".to_string(), 3)`.
//!
//! On a miss the owned key is made with [`ToKey`], which is `Clone` for owned types and
//! `to_owned` for `str`, slices, paths and OS strings.
//!
//! ```
//! use std::hash::{BuildHasher, RandomState};
//! use memokit_core::key::{Equivalent, KeyRef, ToKey};
//!
//! let owned: (String, u32) = ("alice".to_string(), 3);
//! let name: &str = "alice";
//! let borrowed = KeyRef((name, &3u32));
//! assert!(borrowed.equivalent(&owned));
//! let rebuilt: (String, u32) = borrowed.to_key();
//! assert_eq!(rebuilt, owned);
//! let s = RandomState::new();
//! assert_eq!(s.hash_one(&borrowed), s.hash_one(&owned));
//! ```

use std::ffi::{OsStr, OsString};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use equivalent::Equivalent;

/// Builds the owned key `K` from a borrowed form; see the [module docs](self).
pub trait ToKey<K> {
    /// The owned key.
    fn to_key(&self) -> K;
}

impl<K: Clone> ToKey<K> for K {
    fn to_key(&self) -> K {
        self.clone()
    }
}

impl ToKey<String> for str {
    fn to_key(&self) -> String {
        self.to_owned()
    }
}

impl ToKey<Box<str>> for str {
    fn to_key(&self) -> Box<str> {
        self.into()
    }
}

impl ToKey<Arc<str>> for str {
    fn to_key(&self) -> Arc<str> {
        self.into()
    }
}

impl<T: Clone> ToKey<Vec<T>> for [T] {
    fn to_key(&self) -> Vec<T> {
        self.to_vec()
    }
}

impl ToKey<PathBuf> for Path {
    fn to_key(&self) -> PathBuf {
        self.to_path_buf()
    }
}

impl ToKey<OsString> for OsStr {
    fn to_key(&self) -> OsString {
        self.to_os_string()
    }
}

/// Everything a cache needs of a lookup key for `K`: the same hash, equality with `K`, and a way
/// to build `K` on a miss. Implemented for every type that has the three.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't look up a cache key of type `{K}`: a key must be `Hash + Eq + Clone`",
    label = "not usable as a cache key",
    note = "a memoized function's key is its arguments, owned; a float is neither `Hash` nor `Eq`: key by its bits (`x.to_bits()`), an integer of fixed precision, or leave it out with `key = ...`"
)]
pub trait Lookup<K>: Hash + Equivalent<K> + ToKey<K> {}

#[diagnostic::do_not_recommend]
impl<K, Q: ?Sized + Hash + Equivalent<K> + ToKey<K>> Lookup<K> for Q {}

/// The arguments of one call as a companion handle takes them, to name the key it would use:
/// a reference to the key (`&42`, `"alice"` for a `String` key), or for a key built from several
/// arguments, a tuple of [parts](KeyPart) (`("alice", &3)` for a `(String, u32)` key,
/// `("alice", Some("bob"))` for a `(String, Option<String>)` one).
///
/// ```
/// use memokit_core::{Cache, CacheError, key::KeyArgs};
///
/// type Pages = Cache<(String, u32), String>;
///
/// /// Removes one page, named as a companion handle names it.
/// fn forget(pages: &Pages, args: impl KeyArgs<(String, u32)>) -> Result<bool, CacheError> {
///     args.with_lookup(|key| pages.remove(key))
/// }
///
/// let pages: Pages = Cache::builder("doc-pages").build()?;
/// pages.insert(("alice".to_string(), 3), "page 3".to_string())?;
/// assert!(forget(&pages, ("alice", &3u32))?);
/// let key: (String, u32) = ("bob", &1u32).to_key();
/// assert_eq!(key, ("bob".to_string(), 1));
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub trait KeyArgs<K> {
    /// The borrowed form a cache looks this key up by.
    type Lookup: ?Sized + Lookup<K>;

    /// The owned key.
    fn to_key(&self) -> K;

    /// Calls `f` with the borrowed form of the key, which every cache operation that takes a
    /// key by reference accepts.
    fn with_lookup<R>(&self, f: impl FnOnce(&Self::Lookup) -> R) -> R;
}

impl<K, Q: ?Sized + Lookup<K>> KeyArgs<K> for &Q {
    type Lookup = Q;

    fn to_key(&self) -> K {
        (**self).to_key()
    }

    fn with_lookup<R>(&self, f: impl FnOnce(&Q) -> R) -> R {
        f(self)
    }
}

/// The key of a function without arguments (or with `once`), as `()` rather than `&()`:
/// `MEMO.prime((), value)`.
impl KeyArgs<()> for () {
    type Lookup = ();

    fn to_key(&self) {}

    fn with_lookup<R>(&self, f: impl FnOnce(&()) -> R) -> R {
        f(&())
    }
}

/// One part of a borrowed key: a form of the owned part `K` that compares equal to it, hashes like
/// it, and builds it on a miss. A reference to anything [`Equivalent`] to `K` is one (`&u64` for
/// `u64`, `&str` for `String`), and so are containers of parts: `Option<&str>` for
/// `Option<String>`, a [`Slice`] of `&str` for `Vec<String>`, a tuple `(&str, &u32)` for
/// `(String, u32)`. Inside a [`KeyRef`] they are a lookup key.
pub trait KeyPart<K> {
    /// Whether this part equals `owned`.
    fn equals(&self, owned: &K) -> bool;
    /// The owned part.
    fn to_part(&self) -> K;
}

impl<K, Q: ?Sized + Equivalent<K> + ToKey<K>> KeyPart<K> for &Q {
    fn equals(&self, owned: &K) -> bool {
        (**self).equivalent(owned)
    }

    fn to_part(&self) -> K {
        (**self).to_key()
    }
}

impl<K, X: KeyPart<K>> KeyPart<Option<K>> for Option<X> {
    fn equals(&self, owned: &Option<K>) -> bool {
        match (self, owned) {
            (Some(part), Some(owned)) => part.equals(owned),
            (None, None) => true,
            _ => false,
        }
    }

    fn to_part(&self) -> Option<K> {
        self.as_ref().map(X::to_part)
    }
}

/// A slice of borrowed parts that stands for the `Vec` of their owned forms: `Slice(&["a", "b"])`
/// for a `Vec<String>`. It hashes as the slice does, so its parts must hash like their owned forms
/// one by one (`&str` and `String` do; for `&[&u8]` the two differ and a lookup would never hit).
#[derive(Debug, Clone, Copy)]
pub struct Slice<'a, X>(pub &'a [X]);

impl<X: Hash> Hash for Slice<'_, X> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<K, X: KeyPart<K>> KeyPart<Vec<K>> for Slice<'_, X> {
    fn equals(&self, owned: &Vec<K>) -> bool {
        self.0.len() == owned.len() && self.0.iter().zip(owned).all(|(x, k)| x.equals(k))
    }

    fn to_part(&self) -> Vec<K> {
        self.0.iter().map(X::to_part).collect()
    }
}

/// Borrowed [parts](KeyPart) standing for their owned key: a tuple of references for the tuple of
/// their owned forms, or a container of borrowed values (`KeyRef(Some("a"))` for an
/// `Option<String>`); see the [module docs](self).
// Not `Clone`: a `KeyRef` builds its key through its parts, never by `ToKey`'s blanket `Clone`.
#[derive(Debug)]
pub struct KeyRef<T>(pub T);

impl<T: Hash> Hash for KeyRef<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A reference hashes as its referent and a container as its parts in order, so this
        // hashes like the owned key.
        self.0.hash(state);
    }
}

impl<K, T: KeyPart<K>> Equivalent<K> for KeyRef<T> {
    fn equivalent(&self, key: &K) -> bool {
        self.0.equals(key)
    }
}

impl<K, T: KeyPart<K>> ToKey<K> for KeyRef<T> {
    fn to_key(&self) -> K {
        self.0.to_part()
    }
}

macro_rules! key_ref_tuple {
    ($(($q:ident, $k:ident, $i:tt)),+) => {
        impl<$($q: KeyPart<$k>, $k,)+> KeyPart<($($k,)+)> for ($($q,)+) {
            fn equals(&self, owned: &($($k,)+)) -> bool {
                $(self.$i.equals(&owned.$i))&&+
            }

            fn to_part(&self) -> ($($k,)+) {
                ($(self.$i.to_part(),)+)
            }
        }

        impl<$($q: KeyPart<$k> + Hash + Copy, $k,)+> KeyArgs<($($k,)+)> for ($($q,)+) {
            type Lookup = KeyRef<($($q,)+)>;

            fn to_key(&self) -> ($($k,)+) {
                self.to_part()
            }

            fn with_lookup<R>(&self, f: impl FnOnce(&Self::Lookup) -> R) -> R {
                f(&KeyRef(*self))
            }
        }
    };
}

// `key_ref_tuple!` for every arity from 2 up to the length of the list, from one list.
macro_rules! key_ref_tuples {
    ($first:tt $(, $rest:tt)+) => {
        key_ref_tuples!(@after [$first] $($rest)+);
    };
    (@after [$($done:tt)+] $next:tt $($rest:tt)*) => {
        key_ref_tuple!($($done,)+ $next);
        key_ref_tuples!(@after [$($done)+ $next] $($rest)*);
    };
    (@after [$($done:tt)+]) => {};
}

key_ref_tuples!(
    (Q0, K0, 0),
    (Q1, K1, 1),
    (Q2, K2, 2),
    (Q3, K3, 3),
    (Q4, K4, 4),
    (Q5, K5, 5),
    (Q6, K6, 6),
    (Q7, K7, 7),
    (Q8, K8, 8),
    (Q9, K9, 9),
    (Q10, K10, 10),
    (Q11, K11, 11)
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    #[test]
    fn key_ref_hashes_and_compares_like_the_owned_tuple() {
        let s = RandomState::new();
        let owned = ("a".to_string(), vec![1u8, 2], 7u64, PathBuf::from("/x"));
        let slice: &[u8] = &[1, 2];
        let borrowed = KeyRef(("a", slice, &7u64, Path::new("/x")));
        assert_eq!(s.hash_one(&borrowed), s.hash_one(&owned));
        assert!(borrowed.equivalent(&owned));
        let rebuilt: (String, Vec<u8>, u64, PathBuf) = borrowed.to_key();
        assert_eq!(rebuilt, owned);
        let other = KeyRef(("b", slice, &7u64, Path::new("/x")));
        assert!(!other.equivalent(&owned));
    }

    #[test]
    fn borrowed_containers_hash_and_compare_like_their_owned_forms() {
        let s = RandomState::new();
        let owned = (
            Some("a".to_string()),
            vec!["b".to_string(), "c".to_string()],
            ("d".to_string(), 4u32),
        );
        let names = ["b", "c"];
        let borrowed = KeyRef((Some("a"), Slice(&names), ("d", &4u32)));
        assert_eq!(s.hash_one(&borrowed), s.hash_one(&owned));
        assert!(borrowed.equivalent(&owned));
        let rebuilt: (Option<String>, Vec<String>, (String, u32)) = borrowed.to_key();
        assert_eq!(rebuilt, owned);
        let fewer = KeyRef((Some("a"), Slice(&names[..1]), ("d", &4u32)));
        assert!(!fewer.equivalent(&owned));
        let none: Option<&str> = None;
        assert!(!KeyRef(none).equivalent(&Some("a".to_string())));
        assert!(KeyRef(none).equivalent(&None::<String>));
    }
}
