//! Where a cache's entries live in Redis:
//!
//! ```text
//! <prefix>:<length of the cache name>:<cache name>:<namespace>:<key bytes>
//! memokit:10:app::users:global:ada:3
//! ```
//!
//! The mapping from (prefix, cache name, namespace, key) to a Redis key is injective for every
//! string, and no view's base (the part before the key bytes) is a prefix of another view's, so no
//! cache reads, counts or clears another's entries, whatever the names:
//!
//! * the prefix contains no `:` ([`RedisOptions::prefix`](super::RedisOptions::prefix) rejects
//!   one), so it ends at the first `:`;
//! * the cache name is length-prefixed (its length in bytes, in decimal), so a `:` in it (as in
//!   `app::users`) is plain text, and cache `coll` can never forge the keys of cache `coll:global`;
//! * the namespace is `global`, or `sb<id>-<pid>` inside a test sandbox: no `:` either (sandbox
//!   ids count up per process, and the process id keeps two test processes sharing one server
//!   apart);
//! * the key bytes are [`text_key`](crate::codec::text_key)'s encoding, a pure function of the
//!   key's value, so every process and every build computes the same Redis key for the same cache
//!   key: text for integers, strings and tuples of them (`42`, `ada`, `ada:3`), `0x00` and
//!   postcard for other keys, injective either way (that module says why). Two key *types* may
//!   encode alike (`42u8` and `42u64`); the envelope's type identity tells their values apart.
//!
//! Names and common keys stay readable in `redis-cli`: names are not escaped. A `{...}` in a cache name or prefix is
//! a Redis Cluster hash tag, like anywhere else in a key: the cache's keys then share one slot.
//! Clearing a view matches its base with `SCAN ... MATCH <base>*`, with the glob characters
//! `* ? [ ] \` of the base escaped, so a cache named `a*` does not clear `ab`.

use std::sync::Arc;

use serde::Serialize;

use crate::codec::text_key;
use crate::context::Namespace;
use crate::error::{BackendError, BackendErrorKind};

use super::KIND;

/// `<prefix>:<name length>:<cache name>:`, what the keys of every view of one cache start with.
pub(crate) fn cache_base(prefix: &str, cache: &str) -> Vec<u8> {
    format!("{prefix}:{}:{cache}:", cache.len()).into_bytes()
}

/// The key prefix of one view (one cache, one namespace).
#[derive(Debug, Clone)]
pub(crate) struct KeySpace {
    /// `<prefix>:<name length>:<cache name>:<namespace>:`
    base: Arc<[u8]>,
}

impl KeySpace {
    /// The view of `namespace` in cache `cache`; `prefix` has no `:` (checked with the options).
    pub(crate) fn new(prefix: &str, cache: &str, namespace: Namespace) -> Self {
        debug_assert!(
            !prefix.contains(':'),
            "a prefix with `:` passed the options"
        );
        let namespace = if namespace.is_global() {
            "global".to_string()
        } else {
            format!("sb{}-{}", namespace.id(), std::process::id())
        };
        let mut base = cache_base(prefix, cache);
        base.extend_from_slice(namespace.as_bytes());
        base.push(b':');
        Self { base: base.into() }
    }

    /// The bytes every key of this view starts with.
    pub(crate) fn base(&self) -> &[u8] {
        &self.base
    }

    /// The Redis key of `key`.
    pub(crate) fn key<T: Serialize + ?Sized>(&self, key: &T) -> Result<Vec<u8>, BackendError> {
        let mut out = Vec::with_capacity(self.base.len() + 16);
        out.extend_from_slice(&self.base);
        append_key(key, &mut out)?;
        Ok(out)
    }

    /// The key of `key`'s lease (single flight across processes), which is also the channel
    /// its releases are published on: `<prefix>:<name length>:<cache name>:<namespace>.lease:`
    /// and the key bytes. A namespace never holds a `.`, so no view's base is a prefix of a
    /// lease key: leases are never read, counted, walked or cleared as entries, and they expire
    /// by themselves.
    pub(crate) fn lease_key<T: Serialize + ?Sized>(
        &self,
        key: &T,
    ) -> Result<Vec<u8>, BackendError> {
        let view = &self.base[..self.base.len() - 1];
        let mut out = Vec::with_capacity(view.len() + 24);
        out.extend_from_slice(view);
        out.extend_from_slice(b".lease:");
        append_key(key, &mut out)?;
        Ok(out)
    }

    /// The `SCAN MATCH` pattern of every key of this view.
    pub(crate) fn pattern(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.base.len() + 4);
        for &b in self.base.iter() {
            if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'*');
        out
    }
}

/// Appends `key`'s bytes ([`text_key`]'s encoding) to `out`.
fn append_key<T: Serialize + ?Sized>(key: &T, out: &mut Vec<u8>) -> Result<(), BackendError> {
    text_key::encode(key, out).map_err(|e| {
        BackendError::new(
            KIND,
            BackendErrorKind::Codec,
            format_args!("cannot encode the key: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_are_prefix_named_cache_namespace_and_key_text() {
        let space = KeySpace::new("memokit", "app::users", Namespace::GLOBAL);
        assert_eq!(
            space.key(&("ada", 3u32)).unwrap(),
            b"memokit:10:app::users:global:ada:3"
        );
        assert_eq!(
            space.key(&300u64).unwrap(),
            b"memokit:10:app::users:global:300"
        );
        assert_eq!(
            space.key(&Some(3u8)).unwrap(),
            b"memokit:10:app::users:global:\x00\x01\x03"
        );
        let unicode = KeySpace::new("p", "caché", Namespace::GLOBAL);
        assert_eq!(unicode.base(), "p:6:caché:global:".as_bytes());
    }

    #[test]
    fn sandbox_namespaces_get_their_own_prefix() {
        let sandbox = KeySpace::new("p", "c", Namespace(4));
        let expected = format!("p:1:c:sb4-{}:", std::process::id());
        assert_eq!(sandbox.base(), expected.as_bytes());
        assert_ne!(sandbox.base(), KeySpace::new("p", "c", Namespace(5)).base());
    }

    #[test]
    fn lease_keys_sit_beside_the_view_never_inside_one() {
        let space = KeySpace::new("p", "c", Namespace::GLOBAL);
        assert_eq!(space.lease_key(&7u8).unwrap(), b"p:1:c:global.lease:7");
        let sandbox = KeySpace::new("p", "c", Namespace(3));
        let lease = sandbox.lease_key(&7u8).unwrap();
        assert!(lease.starts_with(format!("p:1:c:sb3-{}.lease:", std::process::id()).as_bytes()));
        for view in [&space, &sandbox] {
            assert!(!matches(&view.pattern(), &lease));
            assert!(!lease.starts_with(view.base()));
        }
    }

    #[test]
    fn patterns_escape_glob_characters() {
        let space = KeySpace::new("p", "a*b?[c]\\", Namespace::GLOBAL);
        assert_eq!(space.pattern(), b"p:8:a\\*b\\?\\[c\\]\\\\:global:*");
    }

    #[test]
    fn a_name_ending_where_another_begins_cannot_forge_its_keys() {
        // Without the length, `coll` + key `global:x` and `coll:global` + key `x` were one key.
        let short = KeySpace::new("memokit", "coll", Namespace::GLOBAL);
        let long = KeySpace::new("memokit", "coll:global", Namespace::GLOBAL);
        let inner = "x".repeat(96);
        let forged = format!("global:{inner}");
        assert_ne!(short.key(&forged).unwrap(), long.key(&inner).unwrap());
        assert!(!long.base().starts_with(short.base()));
        assert!(!matches(&short.pattern(), long.base()));
    }

    /// Redis's glob, for the patterns [`KeySpace::pattern`] writes: `\` escapes, `*` matches
    /// anything; no `?` or `[` unescaped.
    fn matches(pattern: &[u8], key: &[u8]) -> bool {
        match pattern {
            [] => key.is_empty(),
            [b'*', rest @ ..] => (0..=key.len()).any(|i| matches(rest, &key[i..])),
            [b'\\', c, rest @ ..] => key.first() == Some(c) && matches(rest, &key[1..]),
            [c, rest @ ..] => {
                assert!(!matches!(c, b'?' | b'[' | b']'), "unescaped glob character");
                key.first() == Some(c) && matches(rest, &key[1..])
            }
        }
    }

    /// Names and keys from a small alphabet rich in separators and glob and hash-tag characters,
    /// so that near-collisions are common.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a:gl*?{}\\[\\]\\\\0-9é]{0,8}").unwrap()
    }

    fn view() -> impl Strategy<Value = (String, String, u64)> {
        let prefix = proptest::string::string_regex("[ab*{}0-9]{1,3}").unwrap();
        (prefix, text(), prop_oneof![Just(0u64), 1u64..4])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn the_stored_key_is_injective_and_views_never_overlap(
            (p1, c1, n1) in view(),
            k1 in text(),
            (p2, c2, n2) in view(),
            k2 in text(),
        ) {
            let a = KeySpace::new(&p1, &c1, Namespace(n1));
            let b = KeySpace::new(&p2, &c2, Namespace(n2));
            let same_view = (&p1, &c1, n1) == (&p2, &c2, n2);
            let (ka, kb) = (a.key(&k1).unwrap(), b.key(&k2).unwrap());
            prop_assert_eq!(ka == kb, same_view && k1 == k2);
            // Clearing (or counting) one view matches every key of it and no key of another.
            prop_assert!(matches(&a.pattern(), &ka));
            prop_assert_eq!(matches(&a.pattern(), &kb), same_view);
            prop_assert_eq!(kb.starts_with(a.base()), same_view);
        }

        #[test]
        fn a_cache_name_cannot_reach_into_another_views_keys(
            (p1, c1, n1) in view(),
            (p2, c2, n2) in view(),
            suffix in text(),
        ) {
            // Even names built to extend another view's base collide with nothing.
            let a = KeySpace::new(&p1, &c1, Namespace(n1));
            let tail = String::from_utf8(a.base().to_vec()).unwrap() + &suffix;
            for name in [format!("{c1}:{}", &tail), format!("{c2}{tail}")] {
                let b = KeySpace::new(&p2, &name, Namespace(n2));
                prop_assert!(!b.base().starts_with(a.base()));
                prop_assert!(!a.base().starts_with(b.base()));
            }
        }
    }
}
