//! Where a cache's entries live in Redis: `<prefix>:<cache name>:<namespace>:<key bytes>`.
//!
//! The key bytes are [`encode_key`]'s postcard encoding, a pure function of the key's value, so
//! every process computes the same Redis key for the same cache key. Clearing a view matches its
//! base with `SCAN ... MATCH <base>*`, with the glob characters of the base escaped so a cache
//! named `a*` does not clear `ab`.

use std::sync::Arc;

use serde::Serialize;

use crate::codec::encode_key;
use crate::context::Namespace;
use crate::error::BackendError;

use super::KIND;

/// The key prefix of one view (one cache, one namespace).
#[derive(Debug, Clone)]
pub(crate) struct KeySpace {
    /// `<prefix>:<cache name>:<namespace>:`
    base: Arc<[u8]>,
}

impl KeySpace {
    pub(crate) fn new(prefix: &str, cache: &str, namespace: Namespace) -> Self {
        let namespace = if namespace.is_global() {
            "global".to_string()
        } else {
            format!("sb{}-{}", namespace.id(), std::process::id())
        };
        Self {
            base: format!("{prefix}:{cache}:{namespace}:").into_bytes().into(),
        }
    }

    /// The bytes every key of this view starts with.
    pub(crate) fn base(&self) -> &[u8] {
        &self.base
    }

    /// The Redis key of `key`.
    pub(crate) fn key<T: Serialize + ?Sized>(&self, key: &T) -> Result<Vec<u8>, BackendError> {
        let mut out = Vec::with_capacity(self.base.len() + 16);
        out.extend_from_slice(&self.base);
        encode_key(key, &mut out, KIND)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefix_cache_namespace_and_postcard_bytes() {
        let space = KeySpace::new("memokit", "app::users", Namespace::GLOBAL);
        assert_eq!(
            space.key(&("ada", 3u32)).unwrap(),
            b"memokit:app::users:global:\x03ada\x03"
        );
        assert_eq!(
            space.key(&300u64).unwrap(),
            b"memokit:app::users:global:\xac\x02"
        );
    }

    #[test]
    fn sandbox_namespaces_get_their_own_prefix() {
        let sandbox = KeySpace::new("p", "c", Namespace(4));
        let expected = format!("p:c:sb4-{}:", std::process::id());
        assert_eq!(sandbox.base(), expected.as_bytes());
        assert_ne!(sandbox.base(), KeySpace::new("p", "c", Namespace(5)).base());
    }

    #[test]
    fn patterns_escape_glob_characters() {
        let space = KeySpace::new("p", "a*b?[c]\\", Namespace::GLOBAL);
        assert_eq!(space.pattern(), b"p:a\\*b\\?\\[c\\]\\\\:global:*");
    }
}
