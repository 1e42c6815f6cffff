//! Values as bytes, for every backend that stores bytes (Redis today, the disk backend next): the
//! [`Codec`] trait, the default [`Postcard`] codec (see its docs for why postcard), the key
//! encoding, and the envelope in front of every stored value.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Codec`], [`Postcard`], and the key encoding |
//! | `identity.rs` | [`TypeIdentity`]: which key type, value type and schema version wrote a value |
//! | `envelope.rs` | the header every stored value carries, written and checked |
//! | `text_key.rs` | keys as text where they can be (integers, strings, tuples), for Redis |
//! | `snapshot.rs` | the snapshot file of `Cache::save` and `Cache::restore` (feature `snapshot`) |
//!
//! # The envelope
//!
//! ```text
//! offset  0  b"mk"                         magic
//!         2  envelope version (2)          u8
//!         3  codec id                      u8 (Codec::id)
//!         4  type identity                 u64 LE (TypeIdentity)
//!        12  write time                    u64 LE nanoseconds on memokit's clock
//!        20  deadline                      u64 LE nanoseconds on memokit's clock; 0 = none
//!        28  codec payload
//! ```
//!
//! A reader checks magic, envelope version, codec id and type identity before decoding: a value
//! from another program, an older envelope (version 1 had no identity and no deadline), another
//! codec, another key or value type or another schema
//! [`version`](crate::CacheBuilder::version) is a decode error (a miss the cache counts as an
//! error event, overwritten by the next load), never a misread. Then the deadline: a value whose
//! deadline has passed on [memokit's clock](crate::clock) (a sandbox's clock in a sandbox) is a
//! plain miss, whatever the store's own expiry says; that expiry is only the storage bound.
//! Deadlines are compared with the reader's clock, so processes sharing a store agree on expiry to
//! within their clock skew.

mod envelope;
mod identity;
#[cfg(feature = "snapshot")]
pub(crate) mod snapshot;
#[cfg(feature = "redis")]
pub(crate) mod text_key;

use std::error::Error;
use std::sync::Arc;

#[cfg(any(feature = "disk", feature = "snapshot"))]
use serde::Serialize;

#[cfg(any(feature = "disk", feature = "snapshot"))]
use crate::error::{BackendError, BackendErrorKind};

#[cfg(all(test, feature = "redis"))]
pub(crate) use self::envelope::DEADLINE_AT;
pub(crate) use self::envelope::Envelope;
#[cfg(feature = "redis")]
pub(crate) use self::envelope::HEAD_LEN;
#[cfg(any(feature = "redis", feature = "disk"))]
pub(crate) use self::envelope::HEADER_LEN;
pub use self::identity::TypeIdentity;
#[cfg(feature = "disk")]
pub(crate) use self::identity::fingerprint;

/// The error of a [`Codec`].
pub type CodecError = Box<dyn Error + Send + Sync>;

/// A serde data format for cached values; a byte-storing backend calls it through
/// [`erased_serde`](https://docs.rs/erased-serde) so one backend type serves every value type.
///
/// Implement it to store values in another format, and pass it to the backend (for Redis,
/// [`RedisOptions::codec`](crate::redis::RedisOptions::codec); `erased_serde` is re-exported as
/// `memokit::redis::erased_serde`). Ids 0 to 15 are reserved for memokit;
/// give a codec of your own another id, and a new id whenever its output changes incompatibly.
/// (A change of one value type's shape is what [`version`](crate::CacheBuilder::version) is for.)
///
/// ```
/// use memokit_core::redis::{Codec, CodecError, Postcard, erased_serde};
///
/// /// Postcard with its own id, e.g. to invalidate every value of every cache at once.
/// struct PostcardV2;
///
/// impl Codec for PostcardV2 {
///     fn id(&self) -> u8 { 16 }
///     fn name(&self) -> &'static str { "postcard-v2" }
///     fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         Postcard.encode(value, out)
///     }
///     fn decode<'de>(
///         &self,
///         bytes: &'de [u8],
///         visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'de>) -> Result<(), erased_serde::Error>,
///     ) -> Result<(), CodecError> {
///         Postcard.decode(bytes, visit)
///     }
/// }
/// ```
pub trait Codec: Send + Sync + 'static {
    /// The id written in each value's header; values with another id are not decoded.
    fn id(&self) -> u8;

    /// A short name for errors, such as `"postcard"`.
    fn name(&self) -> &'static str;

    /// Appends the encoding of `value` to `out`.
    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError>;

    /// Makes a deserializer over `bytes` and hands it to `visit`, which reads the value out. An
    /// error if `visit` fails or if bytes are left over.
    fn decode<'de>(&self, bytes: &'de [u8], visit: Visit<'_, 'de>) -> Result<(), CodecError>;
}

/// What [`Codec::decode`] hands its deserializer to: the caller's code that reads the value out.
///
/// An alias, so an implementation may write either this or the type it stands for,
/// `&mut dyn FnMut(&mut dyn erased_serde::Deserializer<'de>) -> Result<(), erased_serde::Error>`.
pub type Visit<'a, 'de> =
    &'a mut dyn FnMut(&mut dyn erased_serde::Deserializer<'de>) -> Result<(), erased_serde::Error>;

/// The default codec: [postcard](https://docs.rs/postcard).
///
/// Cached values are written and read by the same program (or its next version), so the format
/// needs to be compact and fast rather than self-describing: postcard's output is close to the raw
/// size of the data (varint integers, no field names), it is among the fastest serde formats, and
/// its wire format is specified and stable since 1.0, so two builds of one program read each
/// other's values. Its limit is serde's "self-describing" features: `#[serde(flatten)]`,
/// `#[serde(untagged)]` and `deserialize_any` types (`serde_json::Value`) do not round-trip; such
/// values need a self-describing codec (MessagePack, JSON), which a few lines of [`Codec`] give.
/// Not being self-describing is also why the envelope carries a [`TypeIdentity`]: postcard writes
/// `""`, `0u64` and `false` as the same byte.
///
/// ```
/// use memokit_core::redis::{Codec, Postcard};
/// let mut out = Vec::new();
/// Postcard.encode(&(7u32, "seven"), &mut out).unwrap();
/// assert_eq!(out, [7, 5, b's', b'e', b'v', b'e', b'n']);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Postcard;

impl Codec for Postcard {
    fn id(&self) -> u8 {
        1
    }

    fn name(&self) -> &'static str {
        "postcard"
    }

    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        postcard::to_io(value, out)?;
        Ok(())
    }

    fn decode<'de>(&self, bytes: &'de [u8], visit: Visit<'_, 'de>) -> Result<(), CodecError> {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
        whole(de.finalize()?)
    }
}

/// `Ok` if a value's decoding left no bytes `rest` over, else the error saying how many.
pub(crate) fn whole(rest: &[u8]) -> Result<(), CodecError> {
    match rest.len() {
        0 => Ok(()),
        n => Err(format!("{n} bytes left over after the value").into()),
    }
}

/// JSON text ([serde_json](https://docs.rs/serde_json)), id 2: the codec of JSON documents
/// (feature `json`). A byte-storing backend picks it by itself for a cache of
/// `serde_json::Value` left on the default codec, since postcard cannot read a `Value` back, and
/// the Redis backend's JSON script edits the JSON text behind the envelope in place.
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

#[cfg(feature = "json")]
impl Json {
    /// [`Json`]'s id.
    pub(crate) const ID: u8 = 2;
}

#[cfg(feature = "json")]
impl Codec for Json {
    fn id(&self) -> u8 {
        Self::ID
    }

    fn name(&self) -> &'static str {
        "json"
    }

    fn encode(
        &self,
        value: &dyn erased_serde::Serialize,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let mut ser = serde_json::Serializer::new(out);
        erased_serde::serialize(value, &mut ser)?;
        Ok(())
    }

    fn decode<'de>(&self, bytes: &'de [u8], visit: Visit<'_, 'de>) -> Result<(), CodecError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
        de.end()?;
        Ok(())
    }
}

/// The codec a byte-storing backend uses for `V`: the one chosen, except that a cache of
/// `serde_json::Value` left on the default [`Postcard`] gets [`Json`] (postcard cannot read a
/// `Value` back).
#[cfg_attr(
    not(feature = "json"),
    expect(
        clippy::extra_unused_type_parameters,
        reason = "`V` matters only with `json`"
    )
)]
pub(crate) fn codec_for<V: 'static>(chosen: &Arc<dyn Codec>) -> Arc<dyn Codec> {
    #[cfg(feature = "json")]
    if std::any::TypeId::of::<V>() == std::any::TypeId::of::<serde_json::Value>()
        && chosen.id() == Postcard.id()
    {
        return Arc::new(Json);
    }
    chosen.clone()
}

/// Appends the key encoding of `key` to `out`: postcard, whatever the value codec, so keys stay
/// the same when the codec changes. `backend` names the backend in the error. Redis writes keys
/// as text where it can (`text_key.rs`).
#[cfg(any(feature = "disk", feature = "snapshot"))]
pub(crate) fn encode_key<T: Serialize + ?Sized>(
    key: &T,
    out: &mut Vec<u8>,
    backend: &'static str,
) -> Result<(), BackendError> {
    Postcard.encode(&key, out).map_err(|e| {
        BackendError::new(
            backend,
            BackendErrorKind::Codec,
            format_args!("cannot encode the key: {e}"),
        )
    })
}

/// The key [`encode_key`] encoded as `bytes`, or `None` if they are not a `T`'s whole encoding.
#[cfg(feature = "snapshot")]
pub(crate) fn decode_key<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match postcard::take_from_bytes(bytes) {
        Ok((key, [])) => Some(key),
        _ => None,
    }
}
