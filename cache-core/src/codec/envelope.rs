//! The header in front of every stored value (layout in the [folder docs](super)), written by
//! [`Envelope::seal`] and checked by [`Envelope::unseal`] and [`Envelope::is_live`].

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Found, Ttl};
use crate::clock::Timestamp;
use crate::error::{BackendError, BackendErrorKind};

use super::{Codec, CodecError, Postcard, TypeIdentity, whole};

const MAGIC: [u8; 2] = *b"mk";
/// 1: magic, version, codec, write time. 2: adds the type identity and the deadline.
const ENVELOPE_VERSION: u8 = 2;
/// The first bytes of every value of this envelope version: magic, then the version.
#[cfg(any(feature = "redis", test))]
pub(crate) const TAG: [u8; 3] = [MAGIC[0], MAGIC[1], ENVELOPE_VERSION];
/// The header's length: what a reader needs to decide whether a value is live.
pub(crate) const HEADER_LEN: usize = 28;
const IDENTITY: usize = 4;
const WRITTEN: usize = 12;
/// The length of [`Envelope::head`]: everything before the write time.
#[cfg(any(feature = "redis", test))]
pub(crate) const HEAD_LEN: usize = WRITTEN;
/// Where the deadline is, for a store that rewrites it in place (a time to idle).
pub(crate) const DEADLINE_AT: usize = 20;
const DEADLINE: usize = DEADLINE_AT;

/// How one store writes its values: the codec, and the backend's kind for errors. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Envelope {
    codec: Arc<dyn Codec>,
    backend: &'static str,
}

/// The header's fields, once magic, envelope version and codec checked out.
struct Header {
    identity: TypeIdentity,
    written: Timestamp,
    /// `None`: no deadline.
    deadline: Option<Timestamp>,
}

impl Header {
    fn expired(&self, now: Timestamp) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

/// A deadline as stored: 0 for none. A deadline at nanosecond 0 has long passed; 1 keeps it
/// apart from "none".
fn encode_deadline(deadline: Option<Timestamp>) -> u64 {
    deadline.map_or(0, |d| d.as_nanos().max(1))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

impl Envelope {
    pub(crate) fn new(codec: Arc<dyn Codec>, backend: &'static str) -> Self {
        Self { codec, backend }
    }

    #[cfg(any(feature = "redis", feature = "disk", test))]
    pub(crate) fn codec(&self) -> &dyn Codec {
        &*self.codec
    }

    /// The stored form of `value`: header, then the codec's encoding.
    pub(crate) fn seal<T: Serialize + ?Sized>(
        &self,
        identity: TypeIdentity,
        value: &T,
        written: Timestamp,
        deadline: Option<Timestamp>,
    ) -> Result<Vec<u8>, BackendError> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.extend_from_slice(&MAGIC);
        out.push(ENVELOPE_VERSION);
        out.push(self.codec.id());
        out.extend_from_slice(&identity.as_u64().to_le_bytes());
        out.extend_from_slice(&written.as_nanos().to_le_bytes());
        out.extend_from_slice(&encode_deadline(deadline).to_le_bytes());
        self.codec.encode(&value, &mut out).map_err(|e| {
            self.error(format_args!(
                "cannot encode a {} with {}: {e}",
                std::any::type_name::<T>(),
                self.codec.name()
            ))
        })?;
        Ok(out)
    }

    /// Reads a value stored by [`seal`](Self::seal) for `identity`: `Ok(None)` if its deadline
    /// has passed at `now`, a [`Codec`](BackendErrorKind::Codec) error on any mismatch.
    pub(crate) fn unseal<T: DeserializeOwned>(
        &self,
        identity: TypeIdentity,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<Option<Found<T>>, BackendError> {
        let header = self.header(bytes)?;
        if header.identity != identity {
            return Err(self.error(format_args!(
                "the value was written for another key type, value type or `version` (identity \
                 {}); this cache reads {} ({} at its `version`)",
                header.identity,
                identity,
                std::any::type_name::<T>(),
            )));
        }
        if header.expired(now) {
            return Ok(None);
        }
        let value = self.decode::<T>(&bytes[HEADER_LEN..]).map_err(|e| {
            self.error(format_args!(
                "cannot decode a {} with {}: {e}",
                std::any::type_name::<T>(),
                self.codec.name()
            ))
        })?;
        Ok(Some(Found {
            value,
            written: header.written,
        }))
    }

    /// The value the codec encoded as `payload`, all of it. Postcard, the default codec, is
    /// called directly, for `T` itself: through `erased_serde` its decode of a `u64` cost a disk
    /// hit 250 instructions more (a tenth of what memokit adds to redb's read; callgrind,
    /// `disk/DESIGN.md`). Ids below 16 are memokit's, so id 1 is [`Postcard`]; any other codec is
    /// called through the trait.
    fn decode<T: DeserializeOwned>(&self, payload: &[u8]) -> Result<T, CodecError> {
        if self.codec.id() == Postcard.id() {
            let (value, rest) = postcard::take_from_bytes::<T>(payload)?;
            return whole(rest).map(|()| value);
        }
        let mut value = None;
        self.codec.decode(payload, &mut |de| {
            value = Some(erased_serde::deserialize::<T>(de)?);
            Ok(())
        })?;
        value.ok_or_else(|| "the codec produced no value".into())
    }

    #[cfg(any(feature = "redis", feature = "disk", test))]
    /// Whether `header` (a stored value's first [`HEADER_LEN`] bytes, or more) is that of a value
    /// [`unseal`](Self::unseal) would return for `identity` at `now`, payload aside.
    pub(crate) fn is_live(&self, identity: TypeIdentity, header: &[u8], now: Timestamp) -> bool {
        self.deadline(identity, header, now).is_some()
    }

    /// The deadline in `header` (`Some(None)`: none) if it is that of a live value, as
    /// [`is_live`](Self::is_live) judges; `None` if it is not.
    pub(crate) fn deadline(
        &self,
        identity: TypeIdentity,
        header: &[u8],
        now: Timestamp,
    ) -> Option<Option<Timestamp>> {
        self.header(header)
            .ok()
            .filter(|h| h.identity == identity && !h.expired(now))
            .map(|h| h.deadline)
    }

    /// How long the value whose header is `header` has left at `now`, if it is a live value for
    /// `identity` ([`Ttl::Missing`] if it is not).
    pub(crate) fn ttl(&self, identity: TypeIdentity, header: &[u8], now: Timestamp) -> Ttl {
        match self.deadline(identity, header, now) {
            None => Ttl::Missing,
            Some(None) => Ttl::Never,
            Some(Some(deadline)) => Ttl::In(deadline.duration_since(now)),
        }
    }

    /// The first [`HEAD_LEN`] bytes of every value this envelope writes for `identity`: magic,
    /// version, codec and identity. A server-side script compares a value's start with them.
    #[cfg(any(feature = "redis", test))]
    pub(crate) fn head(&self, identity: TypeIdentity) -> [u8; HEAD_LEN] {
        let mut out = [0; HEAD_LEN];
        out[..TAG.len()].copy_from_slice(&TAG);
        out[TAG.len()] = self.codec.id();
        out[IDENTITY..WRITTEN].copy_from_slice(&identity.as_u64().to_le_bytes());
        out
    }

    #[cfg(feature = "disk")]
    /// Rewrites the deadline of a sealed value in place, for a store that changes a deadline
    /// without decoding the value ([`Cache::expire`](crate::Cache::expire)).
    pub(crate) fn set_deadline(bytes: &mut [u8], deadline: Option<Timestamp>) {
        bytes[DEADLINE..HEADER_LEN].copy_from_slice(&encode_deadline(deadline).to_le_bytes());
    }

    fn header(&self, bytes: &[u8]) -> Result<Header, BackendError> {
        if !bytes.starts_with(&MAGIC) {
            return Err(self.error("the value has no memokit header"));
        }
        // The version before the length: an older envelope is shorter, and should say so.
        if let Some(&version) = bytes.get(2)
            && version != ENVELOPE_VERSION
        {
            return Err(self.error(format_args!(
                "the value has envelope version {version}; this build reads version {ENVELOPE_VERSION}"
            )));
        }
        if bytes.len() < HEADER_LEN {
            return Err(self.error(format_args!(
                "a {}-byte value is too short to be a memokit value",
                bytes.len()
            )));
        }
        if bytes[3] != self.codec.id() {
            return Err(self.error(format_args!(
                "the value was written by codec id {}; this cache uses {} (id {})",
                bytes[3],
                self.codec.name(),
                self.codec.id()
            )));
        }
        let deadline = u64_at(bytes, DEADLINE);
        Ok(Header {
            identity: TypeIdentity::from_u64(u64_at(bytes, IDENTITY)),
            written: Timestamp::from_nanos(u64_at(bytes, WRITTEN)),
            deadline: (deadline != 0).then_some(Timestamp::from_nanos(deadline)),
        })
    }

    fn error(&self, message: impl fmt::Display) -> BackendError {
        BackendError::new(self.backend, BackendErrorKind::Codec, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Postcard;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        id: u64,
        name: String,
        tags: Vec<String>,
    }

    fn user() -> User {
        User {
            id: 7,
            name: "ada".into(),
            tags: vec!["admin".into()],
        }
    }

    fn envelope() -> Envelope {
        Envelope::new(Arc::new(Postcard), "test")
    }

    const USERS: TypeIdentity = TypeIdentity::from_u64(0x0123_4567_89ab_cdef);
    const T0: Timestamp = Timestamp::from_nanos(1_700_000_000_123_456_789);

    #[test]
    fn sealed_values_round_trip_with_their_write_time() {
        let bytes = envelope().seal(USERS, &user(), T0, None).unwrap();
        assert_eq!(&bytes[..4], b"mk\x02\x01");
        assert_eq!(bytes[IDENTITY..WRITTEN], USERS.as_u64().to_le_bytes());
        assert_eq!(bytes[DEADLINE..HEADER_LEN], [0; 8]);
        let found: Found<User> = envelope().unseal(USERS, &bytes, T0).unwrap().unwrap();
        assert_eq!(found.value, user());
        assert_eq!(found.written, T0);
        assert!(envelope().is_live(USERS, &bytes[..HEADER_LEN], T0));
        assert_eq!(bytes[..HEAD_LEN], envelope().head(USERS));
    }

    #[test]
    fn a_value_is_a_miss_from_its_deadline_on() {
        let deadline = T0.saturating_add(std::time::Duration::from_secs(10));
        let bytes = envelope().seal(USERS, &user(), T0, Some(deadline)).unwrap();
        let at = |now| envelope().unseal::<User>(USERS, &bytes, now).unwrap();
        let just_before = Timestamp::from_nanos(deadline.as_nanos() - 1);
        assert!(at(just_before).is_some());
        assert!(at(deadline).is_none());
        assert!(envelope().is_live(USERS, &bytes, just_before));
        assert!(!envelope().is_live(USERS, &bytes, deadline));
        assert_eq!(
            envelope().deadline(USERS, &bytes, just_before),
            Some(Some(deadline))
        );
        assert_eq!(envelope().deadline(USERS, &bytes, deadline), None);
    }

    #[test]
    fn foreign_old_and_corrupt_values_are_codec_errors() {
        let good = envelope().seal(USERS, &user(), T0, None).unwrap();
        let mut old = good.clone();
        old[2] = 1;
        let mut other_codec = good.clone();
        other_codec[3] = 9;
        let truncated = &good[..good.len() - 2];
        let mut trailing = good.clone();
        trailing.push(0);
        // An envelope of version 1: 12 header bytes, then the payload.
        let mut v1 = b"mk\x01\x01".to_vec();
        v1.extend_from_slice(&T0.as_nanos().to_le_bytes());
        v1.extend_from_slice(&good[HEADER_LEN..]);
        for (bytes, needle) in [
            (&b"plain string"[..], "no memokit header"),
            (&[b'x'; 40][..], "no memokit header"),
            (&b"mk"[..], "too short"),
            (&old[..], "envelope version 1"),
            (&v1[..], "envelope version 1"),
            (&other_codec[..], "codec id 9"),
            (truncated, "cannot decode"),
            (&trailing[..], "left over"),
        ] {
            // A bad payload is found by decoding; the header alone says "live".
            let header_ok = needle == "cannot decode" || needle == "left over";
            let err = envelope().unseal::<User>(USERS, bytes, T0).unwrap_err();
            assert_eq!(err.kind(), BackendErrorKind::Codec);
            assert_eq!(err.backend(), "test");
            assert!(err.message().contains(needle), "{err}");
            assert_eq!(envelope().is_live(USERS, bytes, T0), header_ok, "{needle}");
        }
    }

    #[test]
    fn another_identity_is_a_codec_error_even_when_the_bytes_would_decode() {
        let empty = envelope()
            .seal(TypeIdentity::of::<u32, String>(0), "", T0, None)
            .unwrap();
        let numbers = TypeIdentity::of::<u32, u64>(0);
        let err = envelope().unseal::<u64>(numbers, &empty, T0).unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::Codec);
        assert!(err.message().contains("another key type"), "{err}");
        assert!(!envelope().is_live(numbers, &empty, T0));
        // Without the identity check the payload would have been read as 0.
        let mut forged = empty.clone();
        forged[IDENTITY..WRITTEN].copy_from_slice(&numbers.as_u64().to_le_bytes());
        let misread = envelope().unseal::<u64>(numbers, &forged, T0).unwrap();
        assert_eq!(misread.map(|f| f.value), Some(0));
    }
}
