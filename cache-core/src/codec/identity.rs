//! [`TypeIdentity`]: a fixed 64-bit fingerprint of the key type, the value type and the schema
//! version, written in every envelope.

use std::any::type_name;

/// Which key type, value type and schema [`version`](crate::CacheBuilder::version) a stored value
/// was written for: FNV-1a (64-bit) of `std::any::type_name::<K>()`, `type_name::<V>()` and the
/// version, each field ended by a `0xff` byte (which UTF-8 never contains, so no two triples run
/// together into the same input).
///
/// FNV-1a is written out here, with its fixed parameters, rather than taken from `std`'s
/// hashers, whose output may change between Rust releases and, for `RandomState`, between
/// processes: two processes or two builds of one program compute the same identity for the same
/// types. It changes, making every stored value of the cache a miss once (never a wrong value),
/// when:
///
/// * the key or value type is renamed, moved to another module or crate, or given other generic
///   arguments (`type_name` spells the full path: `alloc::string::String`, `my_app::User`);
/// * the cache's [`version`](crate::CacheBuilder::version) changes: bump it when a type keeps its
///   name but its serialized form changes;
/// * rarely, a compiler upgrade spells a `type_name` differently (the standard library does not
///   promise that it never will).
///
/// It does not change when a type's fields change: that is what `version` is for. 64 bits make an
/// accidental match of two different triples a one in 2⁶⁴ event.
///
/// ```
/// use memokit_core::codec::TypeIdentity;
///
/// let v0 = TypeIdentity::of::<u64, String>(0);
/// assert_eq!(v0, TypeIdentity::of::<u64, String>(0));
/// assert_ne!(v0, TypeIdentity::of::<u64, String>(1));
/// assert_ne!(v0, TypeIdentity::of::<String, u64>(0));
/// assert_ne!(v0, TypeIdentity::of::<u64, u64>(0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeIdentity(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Ends each field: never a byte of UTF-8.
const END: u8 = 0xff;

impl TypeIdentity {
    /// The identity of values of type `V` under keys of type `K`, at schema version `version`.
    pub fn of<K: ?Sized, V: ?Sized>(version: u32) -> Self {
        let mut hash = FNV_OFFSET;
        for field in [
            type_name::<K>().as_bytes(),
            type_name::<V>().as_bytes(),
            &version.to_le_bytes(),
        ] {
            hash = fnv1a(hash, field);
            hash = fnv1a(hash, &[END]);
        }
        Self(hash)
    }

    /// The fingerprint as written in the envelope.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    pub(crate) const fn from_u64(bits: u64) -> Self {
        Self(bits)
    }
}

/// FNV-1a (64-bit) of `bytes`: a hash that is the same in every process and build, for a store
/// that orders keys by it (the disk backend).
#[cfg(feature = "disk")]
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    fnv1a(FNV_OFFSET, bytes)
}

/// FNV-1a (64-bit) over bytes fed in pieces: a snapshot file's checksum. Each step is a bijection
/// of the state, so any one changed byte changes the sum; it detects damage, not tampering.
#[cfg(feature = "snapshot")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checksum(u64);

#[cfg(feature = "snapshot")]
impl Checksum {
    pub(crate) const fn new() -> Self {
        Self(FNV_OFFSET)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0, bytes);
    }

    pub(crate) const fn sum(self) -> u64 {
        self.0
    }
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

impl std::fmt::Display for TypeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_identity_is_a_fixed_function_of_the_type_names_and_version() {
        // Pinned: a change here silently makes every stored value of every cache a miss.
        let mut expected = FNV_OFFSET;
        for field in [&b"u64"[..], b"alloc::string::String", &7u32.to_le_bytes()] {
            expected = fnv1a(fnv1a(expected, field), &[END]);
        }
        assert_eq!(TypeIdentity::of::<u64, String>(7).as_u64(), expected);
        assert_ne!(
            TypeIdentity::of::<u8, u16>(0),
            TypeIdentity::of::<u16, u8>(0)
        );
        assert_ne!(TypeIdentity::of::<(), ()>(0), TypeIdentity::of::<(), ()>(1));
    }
}
