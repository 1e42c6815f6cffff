//! Keys as text where they can be, for stores a person reads (Redis, in `redis-cli`): integers in
//! decimal, strings as they are, tuples joined by `:`, and postcard bytes behind a `0x00` byte for
//! every other key.
//!
//! ```text
//! 42u64               42
//! "ada"               ada
//! ("ada", 3u32)       ada:3
//! ("a:b", -1i8)       a\:b:-1
//! UserId(7)           7            (a newtype struct is its content)
//! Some(3u32)          \x00\x01\x03 (anything else: 0x00, then postcard)
//! ```
//!
//! # Why it stays injective
//!
//! The text form covers `bool`, the integers, `char`, strings, `()`, unit structs, newtype
//! structs (as their content) and tuples and tuple structs of those. A key with any other part
//! (an `Option`, an enum, a float, a sequence, a struct with named fields) is written whole as
//! `0x00` + postcard: the text form never starts with `0x00`, because it escapes every control
//! character in strings (`\xNN`) and writes nothing else but ASCII digits, `-` and letters. In
//! the text form, integers are canonical decimal, a string escapes `\` as `\\` and, inside a
//! tuple, `:` as `\:`, so the `:` between a tuple's elements cannot be forged by their
//! content; a tuple type has a fixed number of elements. So two keys of one type that serialize
//! with one shape (every derived and standard type) never share bytes. Two key *types* may
//! (`42u8` and `42u64`, `"42"`); the envelope's type identity tells their values apart, as it did
//! with postcard.
//!
//! [`decode`] reads back exactly what [`encode`] wrote, and nothing else: a non-canonical number
//! (`007`), an unknown escape or left-over bytes are no key.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{self, Impossible, Serialize};

use super::{Codec, Postcard};

/// The first byte of a key written as postcard rather than text.
const BINARY: u8 = 0x00;

/// Appends `key` to `out`: as text if every part of it has a text form, else as [`BINARY`] then
/// postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(
    key: &T,
    out: &mut Vec<u8>,
) -> Result<(), super::CodecError> {
    let start = out.len();
    if key
        .serialize(Text {
            out: &mut *out,
            depth: 0,
        })
        .is_ok()
    {
        return Ok(());
    }
    out.truncate(start);
    out.push(BINARY);
    Postcard.encode(&key, out)
}

/// The key [`encode`] wrote as `bytes`, or `None` if they are not a `T`'s whole encoding.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    if let Some(binary) = bytes.strip_prefix(&[BINARY]) {
        return match postcard::take_from_bytes(binary) {
            Ok((key, [])) => Some(key),
            _ => None,
        };
    }
    let mut reader = Reader {
        input: bytes,
        depth: 0,
    };
    let key = T::deserialize(&mut reader).ok()?;
    reader.input.is_empty().then_some(key)
}

/// A part with no text form; the key is written as postcard instead.
#[derive(Debug)]
pub(crate) struct NoText;

impl fmt::Display for NoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no text form")
    }
}

impl std::error::Error for NoText {}

impl ser::Error for NoText {
    fn custom<M: fmt::Display>(_: M) -> Self {
        NoText
    }
}

impl de::Error for NoText {
    fn custom<M: fmt::Display>(_: M) -> Self {
        NoText
    }
}

/// Writes a key's text form; `depth` > 0 inside a tuple, where `:` separates elements.
struct Text<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
}

impl Text<'_> {
    fn number(self, n: impl fmt::Display) -> Result<(), NoText> {
        use std::io::Write;
        write!(self.out, "{n}").map_err(|_| NoText)
    }
}

macro_rules! numbers {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), NoText> {
            self.number(v)
        }
    )*};
}

macro_rules! no_text {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ret, NoText> {
            Err(NoText)
        }
    )*};
}

impl<'a> ser::Serializer for Text<'a> {
    type Ok = ();
    type Error = NoText;
    type SerializeSeq = Impossible<(), NoText>;
    type SerializeTuple = Tuple<'a>;
    type SerializeTupleStruct = Tuple<'a>;
    type SerializeTupleVariant = Impossible<(), NoText>;
    type SerializeMap = Impossible<(), NoText>;
    type SerializeStruct = Impossible<(), NoText>;
    type SerializeStructVariant = Impossible<(), NoText>;

    numbers!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128, serialize_bool: bool
    );

    no_text! {
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_char(self, v: char) -> Result<(), NoText> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), NoText> {
        for c in v.chars() {
            match c {
                '\\' => self.out.extend_from_slice(b"\\\\"),
                ':' if self.depth > 0 => self.out.extend_from_slice(b"\\:"),
                c if c.is_ascii_control() => {
                    self.out
                        .extend_from_slice(format!("\\x{:02x}", c as u8).as_bytes());
                }
                c => self
                    .out
                    .extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), NoText> {
        Err(NoText)
    }

    fn serialize_unit(self) -> Result<(), NoText> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NoText> {
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NoText> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NoText> {
        Err(NoText)
    }

    fn serialize_tuple(self, _: usize) -> Result<Tuple<'a>, NoText> {
        Ok(Tuple {
            out: self.out,
            depth: self.depth + 1,
            first: true,
        })
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Tuple<'a>, NoText> {
        self.serialize_tuple(len)
    }

    fn is_human_readable(&self) -> bool {
        // As postcard: a type that serializes differently for people must not change its key.
        false
    }
}

/// The elements of a tuple, `:` between them.
struct Tuple<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    first: bool,
}

impl Tuple<'_> {
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), NoText> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b':');
        }
        value.serialize(Text {
            out: self.out,
            depth: self.depth,
        })
    }
}

impl ser::SerializeTuple for Tuple<'_> {
    type Ok = ();
    type Error = NoText;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), NoText> {
        self.element(value)
    }

    fn end(self) -> Result<(), NoText> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Tuple<'_> {
    type Ok = ();
    type Error = NoText;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), NoText> {
        self.element(value)
    }

    fn end(self) -> Result<(), NoText> {
        Ok(())
    }
}

/// Reads a key's text form back.
struct Reader<'de> {
    input: &'de [u8],
    depth: usize,
}

impl<'de> Reader<'de> {
    /// The bytes up to the next unescaped `:` in a tuple, or to the end outside one.
    fn token(&mut self) -> &'de [u8] {
        let mut end = 0;
        while end < self.input.len() {
            match self.input[end] {
                b'\\' => end += 2,
                b':' if self.depth > 0 => break,
                _ => end += 1,
            }
        }
        let end = end.min(self.input.len());
        let (token, rest) = self.input.split_at(end);
        self.input = rest;
        token
    }

    fn number<N: std::str::FromStr + ToString>(&mut self) -> Result<N, NoText> {
        let token = std::str::from_utf8(self.token()).map_err(|_| NoText)?;
        let n: N = token.parse().map_err(|_| NoText)?;
        // Only the canonical form [`encode`] writes: no `+`, no leading zeros, no `-0`.
        (n.to_string() == token).then_some(n).ok_or(NoText)
    }

    fn string(&mut self) -> Result<String, NoText> {
        let token = self.token();
        // A raw control character was never written: they are escaped.
        if token.iter().any(u8::is_ascii_control) {
            return Err(NoText);
        }
        let mut out = Vec::with_capacity(token.len());
        let mut bytes = token.iter().copied();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b':') if self.depth > 0 => out.push(b':'),
                Some(b'x') => {
                    let hex = [bytes.next().ok_or(NoText)?, bytes.next().ok_or(NoText)?];
                    let hex = std::str::from_utf8(&hex).map_err(|_| NoText)?;
                    let c = u8::from_str_radix(hex, 16).map_err(|_| NoText)?;
                    // Escaped are control characters only, in lowercase hex.
                    if !c.is_ascii_control() || format!("{c:02x}") != hex {
                        return Err(NoText);
                    }
                    out.push(c);
                }
                _ => return Err(NoText),
            }
        }
        String::from_utf8(out).map_err(|_| NoText)
    }
}

macro_rules! read_numbers {
    ($($method:ident => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NoText> {
            visitor.$visit(self.number()?)
        }
    )*};
}

macro_rules! read_nothing {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $arg,)* _: V) -> Result<V::Value, NoText> {
            Err(NoText)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = NoText;

    read_numbers!(
        deserialize_bool => visit_bool, deserialize_i8 => visit_i8, deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32, deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128, deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16, deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64, deserialize_u128 => visit_u128
    );

    read_nothing! {
        deserialize_any();
        deserialize_f32();
        deserialize_f64();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_seq();
        deserialize_map();
        deserialize_struct(&'static str, &'static [&'static str]);
        deserialize_enum(&'static str, &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NoText> {
        let s = self.string()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(NoText),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NoText> {
        visitor.visit_string(self.string()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NoText> {
        visitor.visit_string(self.string()?)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NoText> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, NoText> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, NoText> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, NoText> {
        self.depth += 1;
        let value = visitor.visit_seq(Elements {
            reader: &mut *self,
            left: len,
            first: true,
        })?;
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, NoText> {
        self.deserialize_tuple(len, visitor)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a tuple being read.
struct Elements<'r, 'de> {
    reader: &'r mut Reader<'de>,
    left: usize,
    first: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = NoText;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, NoText> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if !std::mem::take(&mut self.first) {
            self.reader.input = self.reader.input.strip_prefix(b":").ok_or(NoText)?;
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    fn text<T: Serialize + ?Sized>(key: &T) -> Vec<u8> {
        let mut out = Vec::new();
        encode(key, &mut out).unwrap();
        out
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct UserId(u64);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Region {
        Eu,
        Us,
    }

    #[test]
    fn the_common_keys_read_as_text() {
        assert_eq!(text(&42u64), b"42");
        assert_eq!(text(&-7i32), b"-7");
        assert_eq!(text("ada"), b"ada");
        assert_eq!(text(&("ada", 3u32)), b"ada:3");
        assert_eq!(text(&("a:b", -1i8)), b"a\\:b:-1");
        assert_eq!(text("a:b"), b"a:b");
        assert_eq!(text(&UserId(7)), b"7");
        assert_eq!(text(&(UserId(7), true, 'x')), b"7:true:x");
        assert_eq!(text(&()), b"");
        assert_eq!(text("tab\there\\"), b"tab\\x09here\\\\");
    }

    #[test]
    fn other_keys_are_postcard_behind_a_zero_byte() {
        assert_eq!(text(&Some(3u32)), b"\x00\x01\x03");
        assert_eq!(text(&vec![1u8, 2]), b"\x00\x02\x01\x02");
        assert_eq!(text(&Region::Us), b"\x00\x01");
        assert_eq!(text(&(1u32, Some(2u32))), b"\x00\x01\x01\x02");
    }

    #[test]
    fn decoding_takes_only_what_encoding_writes() {
        assert_eq!(decode::<u64>(b"42"), Some(42));
        assert_eq!(decode::<(String, u32)>(b"a\\:b:3"), Some(("a:b".into(), 3)));
        assert_eq!(decode::<Option<u32>>(b"\x00\x01\x03"), Some(Some(3)));
        for bad in [&b"007"[..], b"+7", b"-0", b"7:", b"", b"x"] {
            assert_eq!(decode::<u64>(bad), None, "{bad:?}");
        }
        assert_eq!(decode::<(u32, u32)>(b"1:2:3"), None);
        assert_eq!(decode::<String>(b"a\\qb"), None);
        assert_eq!(
            decode::<String>(b"a\\x41"),
            None,
            "only controls are escaped"
        );
        assert_eq!(
            decode::<String>(b"a\x01"),
            None,
            "a raw control was never written"
        );
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(key: &T) -> Vec<u8> {
        let bytes = text(key);
        assert_eq!(decode::<T>(&bytes).as_ref(), Some(key), "{bytes:?}");
        bytes
    }

    proptest! {
        #[test]
        fn strings_are_injective(a in ".*", b in ".*") {
            prop_assume!(a != b);
            prop_assert_ne!(round_trip(&a), round_trip(&b));
        }

        #[test]
        fn tuples_are_injective(a in (".*", any::<i64>(), "[:\\\\a]*"), b in (".*", any::<i64>(), "[:\\\\a]*")) {
            prop_assume!(a != b);
            prop_assert_ne!(round_trip(&a), round_trip(&b));
        }

        #[test]
        fn nested_and_optional_keys_are_injective(
            a in ((any::<u8>(), "[:a]*"), proptest::option::of(any::<u16>())),
            b in ((any::<u8>(), "[:a]*"), proptest::option::of(any::<u16>())),
        ) {
            prop_assume!(a != b);
            prop_assert_ne!(round_trip(&a), round_trip(&b));
        }
    }
}
