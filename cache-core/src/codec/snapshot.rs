//! The snapshot file of [`Cache::save`](crate::Cache::save) and
//! [`Cache::restore`](crate::Cache::restore): its layout, written by [`Writer`] and checked whole
//! by [`parse`], and the atomic replacement of the file ([`write_atomically`]).
//!
//! ```text
//! offset  0  b"\x89MKSNAP\n"             magic (a high-bit byte and a newline, as in PNG:
//!                                        a text-mode copy or a 7-bit channel breaks it)
//!         8  format version (1)          u16 LE
//!        10  codec id                    u8 (Codec::id)
//!        11  0                           u8, reserved
//!        12  type identity               u64 LE (TypeIdentity of K, V and `version`)
//!        20  saved at                    u64 LE nanoseconds on memokit's clock
//!        28  records, each:              key length u32 LE, key (postcard),
//!                                        value length u32 LE, value (the envelope)
//!    end-16  record count                u64 LE
//!     end-8  checksum                    u64 LE, FNV-1a of every byte before it
//! ```
//!
//! Each value is sealed in the [envelope](super) every byte-storing backend writes, so its type
//! identity, write time and deadline travel with it; the deadline is an absolute time on
//! memokit's clock (anchored to the wall clock, so a snapshot restored by the next process, or
//! a day later, expires its entries when they were due). The header repeats the identity so that
//! a snapshot of another type is refused before any record is read. The count and the checksum
//! come last so the file is written in one pass while the cache is walked.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::TypeIdentity;
use super::identity::Checksum;
use crate::clock::Timestamp;
use crate::error::SnapshotErrorKind;

const MAGIC: [u8; 8] = *b"\x89MKSNAP\n";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 28;
const TRAILER_LEN: usize = 16;

/// A snapshot's failure before it names a cache and a path.
pub(crate) type Failure = (SnapshotErrorKind, String);

/// One record of a snapshot: a key's postcard encoding and its sealed value.
pub(crate) type Record<'a> = (&'a [u8], &'a [u8]);

/// Writes a snapshot to `out`: the header at [`new`](Self::new), then records, then the
/// trailer at [`finish`](Self::finish).
pub(crate) struct Writer<W> {
    out: W,
    checksum: Checksum,
    count: u64,
}

impl<W: Write> Writer<W> {
    pub(crate) fn new(
        mut out: W,
        codec: u8,
        identity: TypeIdentity,
        saved: Timestamp,
    ) -> io::Result<Self> {
        let mut header = [0; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&VERSION.to_le_bytes());
        header[10] = codec;
        header[12..20].copy_from_slice(&identity.as_u64().to_le_bytes());
        header[20..28].copy_from_slice(&saved.as_nanos().to_le_bytes());
        out.write_all(&header)?;
        let mut checksum = Checksum::new();
        checksum.update(&header);
        Ok(Self {
            out,
            checksum,
            count: 0,
        })
    }

    /// Appends one record: a key's postcard encoding and its sealed value.
    pub(crate) fn record(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        for part in [key, value] {
            let len = u32::try_from(part.len()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a key or value over 4 GiB cannot be saved",
                )
            })?;
            self.put(&len.to_le_bytes())?;
            self.put(part)?;
        }
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer; the number of records.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        let count = self.count;
        self.put(&count.to_le_bytes())?;
        let sum = self.checksum.sum();
        self.out.write_all(&sum.to_le_bytes())?;
        self.out.flush()?;
        Ok(count)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.checksum.update(bytes);
        self.out.write_all(bytes)
    }
}

/// The (key, sealed value) records of the snapshot `bytes`, once its magic, version, length,
/// checksum, codec and type identity all check out: a bad file fails here, before a record
/// reaches the cache.
pub(crate) fn parse(
    bytes: &[u8],
    codec: u8,
    identity: TypeIdentity,
) -> Result<Vec<Record<'_>>, Failure> {
    let corrupt = |why: String| (SnapshotErrorKind::Corrupt, why);
    if !bytes.starts_with(&MAGIC) {
        return Err((
            SnapshotErrorKind::Foreign,
            "not a memokit snapshot (its first bytes are not the snapshot magic)".into(),
        ));
    }
    if let Some(version) = bytes.get(8..10) {
        let version = u16::from_le_bytes([version[0], version[1]]);
        if version != VERSION {
            return Err((
                SnapshotErrorKind::Version,
                format!("snapshot format version {version}; this build reads version {VERSION}"),
            ));
        }
    }
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(format!(
            "truncated: {} bytes, shorter than an empty snapshot",
            bytes.len()
        )));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut checksum = Checksum::new();
    checksum.update(body);
    if checksum.sum() != u64_at(sum, 0) {
        return Err(corrupt(
            "the checksum does not match: the file is truncated or damaged".into(),
        ));
    }
    if body[10] != codec {
        return Err((
            SnapshotErrorKind::Mismatch,
            format!(
                "written by codec id {}; this cache reads codec id {codec}",
                body[10]
            ),
        ));
    }
    let written_for = TypeIdentity::from_u64(u64_at(body, 12));
    if written_for != identity {
        return Err((
            SnapshotErrorKind::Mismatch,
            format!(
                "written for another key type, value type or `version` (identity {written_for}); \
                 this cache reads {identity}"
            ),
        ));
    }
    let (records, count) = body[HEADER_LEN..].split_at(body.len() - HEADER_LEN - 8);
    let count = u64_at(count, 0);
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let key = take(&mut rest).ok_or_else(|| corrupt("a record runs past the end".into()))?;
        let value = take(&mut rest).ok_or_else(|| corrupt("a record runs past the end".into()))?;
        out.push((key, value));
    }
    if out.len() as u64 != count {
        return Err(corrupt(format!(
            "{} records where the trailer says {count}",
            out.len()
        )));
    }
    Ok(out)
}

/// The next length-prefixed part of `rest`, or `None` if it runs past the end.
fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let part = rest.get(4..4 + len)?;
    *rest = &rest[4 + len..];
    Some(part)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Replaces the file at `path` with what `write` writes, atomically: into a new temporary file
/// in the same folder (created if missing), fsynced, renamed over `path`, and the folder
/// fsynced so the rename itself survives a crash. On any failure (a full disk included) the
/// temporary file is removed and `path` is left as it was.
pub(crate) fn write_atomically<R>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<R>,
) -> io::Result<R> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let mut out = BufWriter::new(file);
        let result = write(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        sync_dir(dir)?;
        Ok(result)
    })();
    if written.is_err() {
        // Gone already if the rename happened.
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Makes a rename in `dir` durable. Only Unix can open a folder to fsync it; elsewhere the
/// rename is as durable as the file system makes it.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: TypeIdentity = TypeIdentity::from_u64(0x1234);
    const T0: Timestamp = Timestamp::from_nanos(1_700_000_000_000_000_000);

    fn snapshot(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out, 1, IDENTITY, T0).unwrap();
        for (k, v) in records {
            writer.record(k, v).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), records.len() as u64);
        out
    }

    #[test]
    fn records_round_trip() {
        let records: &[Record<'_>] = &[(b"k1", b"v1"), (b"", b"empty key"), (b"k3", b"")];
        let bytes = snapshot(records);
        assert_eq!(parse(&bytes, 1, IDENTITY).unwrap(), records);
        assert_eq!(parse(&snapshot(&[]), 1, IDENTITY).unwrap(), []);
    }

    #[test]
    fn every_damage_is_an_error_of_its_kind() {
        use SnapshotErrorKind::*;
        let good = snapshot(&[(b"key", b"value"), (b"other", b"thing")]);
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 5] ^= 1;
        let mut version = good.clone();
        version[8] = 9;
        let mut identity = good.clone();
        identity[12] ^= 1;
        let other_type = {
            let mut out = Vec::new();
            let mut w = Writer::new(&mut out, 1, TypeIdentity::from_u64(7), T0).unwrap();
            w.record(b"k", b"v").unwrap();
            w.finish().unwrap();
            out
        };
        let other_codec = {
            let mut out = Vec::new();
            Writer::new(&mut out, 2, IDENTITY, T0)
                .unwrap()
                .finish()
                .unwrap();
            out
        };
        for (bytes, kind, needle) in [
            (&b"{\"json\": true}"[..], Foreign, "not a memokit snapshot"),
            (&b""[..], Foreign, "not a memokit snapshot"),
            (&good[..good.len() - 1], Corrupt, "checksum"),
            (&good[..HEADER_LEN + 3], Corrupt, "truncated"),
            (&good[..12], Corrupt, "truncated"),
            (&flipped[..], Corrupt, "checksum"),
            // A flipped identity byte is damage, not a snapshot of another type.
            (&identity[..], Corrupt, "checksum"),
            (&version[..], Version, "version 9"),
            (&other_type[..], Mismatch, "another key type"),
            (&other_codec[..], Mismatch, "codec id 2"),
        ] {
            let (got, message) = parse(bytes, 1, IDENTITY).unwrap_err();
            assert_eq!(got, kind, "{message}");
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn a_bad_record_length_under_a_good_checksum_is_corrupt() {
        // A writer bug, not damage: the checksum holds but a length runs past the end.
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, 1, IDENTITY, T0).unwrap();
        w.put(&100u32.to_le_bytes()).unwrap();
        w.put(b"short").unwrap();
        w.finish().unwrap();
        let (kind, message) = parse(&out, 1, IDENTITY).unwrap_err();
        assert_eq!(kind, SnapshotErrorKind::Corrupt);
        assert!(message.contains("past the end"), "{message}");
    }

    fn folder(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "memokit-snapshot-unit-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = folder("full");
        let path = dir.join("cache.snapshot");
        write_atomically(&path, |out| out.write_all(b"old")).unwrap();
        // What a full disk looks like to the writer: a write that fails part way.
        let err = write_atomically(&path, |out| {
            out.write_all(&[0; 10_000])?;
            Err::<(), _>(io::Error::from(io::ErrorKind::StorageFull))
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, std::slice::from_ref(&path));
        write_atomically(&path, |out| out.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_folder_is_created_and_a_path_without_a_file_name_is_refused() {
        let dir = folder("nested");
        let path = dir.join("a/b/cache.snapshot");
        write_atomically(&path, |out| out.write_all(b"x")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
        let err = write_atomically(Path::new("/"), |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        fs::remove_dir_all(&dir).unwrap();
    }
}
