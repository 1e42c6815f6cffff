//! Values on the wire: the [`Codec`] trait, the default [`Postcard`] codec (see its docs for why
//! postcard), and the envelope that carries a format header and the write time in front of every
//! value.
//!
//! # The envelope
//!
//! ```text
//! b"mk" | envelope version (1) | codec id | write time: u64 LE nanoseconds | codec payload
//! ```
//!
//! A reader checks all three before decoding, so a value from another program, another codec or a
//! future envelope is a decode error (a miss), never a misread.

use std::error::Error;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::Found;
use crate::clock::Timestamp;
use crate::error::{BackendError, BackendErrorKind};

use super::KIND;

const MAGIC: [u8; 2] = *b"mk";
const ENVELOPE_VERSION: u8 = 1;
const HEADER_LEN: usize = 12;

/// The error of a [`Codec`].
pub type CodecError = Box<dyn Error + Send + Sync>;

/// A serde data format for cached values; the Redis backend calls it through
/// [`erased_serde`](https://docs.rs/erased-serde) so one backend type serves every value type.
///
/// Implement it to store values in another format, and pass it to
/// [`RedisOptions::codec`](super::RedisOptions::codec) (`erased_serde` is re-exported as
/// `memokit::redis::erased_serde`). Ids 0 to 15 are reserved for memokit;
/// give a codec of your own another id, and a new id whenever its output changes incompatibly.
///
/// ```
/// use memokit_core::redis::{Codec, CodecError, Postcard, erased_serde};
///
/// /// Postcard with its own id, e.g. to invalidate every value after a breaking type change.
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
        let rest = de.finalize()?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes left over after the value", rest.len()).into())
        }
    }
}

/// Encodes `value` with the key encoding: postcard, whatever the value codec, so keys stay the
/// same when the codec changes.
pub(crate) fn encode_key<T: Serialize + ?Sized>(
    key: &T,
    out: &mut Vec<u8>,
) -> Result<(), BackendError> {
    Postcard
        .encode(&key, out)
        .map_err(|e| codec_error(format_args!("cannot encode the key: {e}")))
}

/// The stored form of `value`: envelope header, then the codec's encoding.
pub(crate) fn seal<T: Serialize>(
    codec: &dyn Codec,
    value: &T,
    written: Timestamp,
) -> Result<Vec<u8>, BackendError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(ENVELOPE_VERSION);
    out.push(codec.id());
    out.extend_from_slice(&written.as_nanos().to_le_bytes());
    codec.encode(value, &mut out).map_err(|e| {
        codec_error(format_args!(
            "cannot encode a {} with {}: {e}",
            std::any::type_name::<T>(),
            codec.name()
        ))
    })?;
    Ok(out)
}

/// Reads a value stored by [`seal`]; any mismatch is a [`Codec`](BackendErrorKind::Codec) error.
pub(crate) fn unseal<T: DeserializeOwned>(
    codec: &dyn Codec,
    bytes: &[u8],
) -> Result<Found<T>, BackendError> {
    let Some((header, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(codec_error(format_args!(
            "a {}-byte value is too short to be a memokit value",
            bytes.len()
        )));
    };
    if header[..2] != MAGIC {
        return Err(codec_error("the value has no memokit header"));
    }
    if header[2] != ENVELOPE_VERSION {
        return Err(codec_error(format_args!(
            "the value has envelope version {}; this build reads version {ENVELOPE_VERSION}",
            header[2]
        )));
    }
    if header[3] != codec.id() {
        return Err(codec_error(format_args!(
            "the value was written by codec id {}; this cache uses {} (id {})",
            header[3],
            codec.name(),
            codec.id()
        )));
    }
    let mut nanos = [0; 8];
    nanos.copy_from_slice(&header[4..]);
    let mut value = None;
    codec
        .decode(payload, &mut |de| {
            value = Some(erased_serde::deserialize::<T>(de)?);
            Ok(())
        })
        .map_err(|e| {
            codec_error(format_args!(
                "cannot decode a {} with {}: {e}",
                std::any::type_name::<T>(),
                codec.name()
            ))
        })?;
    let value = value.ok_or_else(|| codec_error("the codec produced no value"))?;
    Ok(Found {
        value,
        written: Timestamp::from_nanos(u64::from_le_bytes(nanos)),
    })
}

fn codec_error(message: impl fmt::Display) -> BackendError {
    BackendError::new(KIND, BackendErrorKind::Codec, message)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn sealed_values_round_trip_with_their_write_time() {
        let written = Timestamp::from_nanos(1_700_000_000_123_456_789);
        let bytes = seal(&Postcard, &user(), written).unwrap();
        assert_eq!(&bytes[..4], b"mk\x01\x01");
        let found: Found<User> = unseal(&Postcard, &bytes).unwrap();
        assert_eq!(found.value, user());
        assert_eq!(found.written, written);
    }

    #[test]
    fn foreign_old_and_corrupt_values_are_codec_errors() {
        let good = seal(&Postcard, &user(), Timestamp::from_nanos(1)).unwrap();
        let mut old = good.clone();
        old[2] = 0;
        let mut other_codec = good.clone();
        other_codec[3] = 9;
        let truncated = &good[..good.len() - 2];
        let mut trailing = good.clone();
        trailing.push(0);
        for (bytes, needle) in [
            (&b"plain string"[..], "no memokit header"),
            (&b"mk"[..], "too short"),
            (&old[..], "envelope version 0"),
            (&other_codec[..], "codec id 9"),
            (truncated, "cannot decode"),
            (&trailing[..], "left over"),
        ] {
            let err = unseal::<User>(&Postcard, bytes).unwrap_err();
            assert_eq!(err.kind(), BackendErrorKind::Codec);
            assert!(err.message().contains(needle), "{err}");
        }
    }

    #[test]
    fn a_changed_value_type_is_a_codec_error() {
        let bytes = seal(&Postcard, &(1u8, 2u8), Timestamp::from_nanos(1)).unwrap();
        let err = unseal::<User>(&Postcard, &bytes).unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::Codec);
    }
}
