//! The ARC block-I/O traces in `../shared/traces` (see that folder's README), expanded into key
//! sequences.
//!
//! Results from these traces must cite: Nimrod Megiddo and Dharmendra S. Modha, "ARC: A
//! Self-Tuning, Low Overhead Replacement Cache", USENIX FAST 03, pp. 115-130, 2003
//! ([`CITATION`]).

use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The citation every output built on the traces carries, as their licence asks.
pub const CITATION: &str = "Traces: Nimrod Megiddo and Dharmendra S. Modha, \"ARC: A Self-Tuning, \
Low Overhead Replacement Cache\", USENIX Conference on File and Storage Technologies (FAST 03), \
San Francisco, CA, pp. 115-130, 2003.";

/// Why a trace could not be read.
#[derive(Debug)]
pub enum TraceError {
    /// The shared folder was not found where it was looked for.
    NotFound(Vec<PathBuf>),
    /// The file could not be read or decompressed.
    Io(PathBuf, io::Error),
    /// A line is not `start count ignored request`.
    Parse(PathBuf, usize, String),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(tried) => write!(
                f,
                "no traces folder found (tried {tried:?}); set MEMOKIT_SHARED to the shared folder"
            ),
            Self::Io(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            Self::Parse(path, line, text) => write!(
                f,
                "{}:{line}: expected `start count ignored request`, found {text:?}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TraceError {}

/// The traces folder: `$MEMOKIT_SHARED/traces` if set, else `<workspace>/../shared/traces`.
pub fn dir() -> Result<PathBuf, TraceError> {
    let mut tried = Vec::new();
    if let Some(shared) = std::env::var_os("MEMOKIT_SHARED") {
        tried.push(PathBuf::from(shared).join("traces"));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    tried.push(workspace.join("../shared/traces"));
    match tried.iter().find(|p| p.is_dir()) {
        Some(found) => Ok(found.clone()),
        None => Err(TraceError::NotFound(tried)),
    }
}

/// Reads `name` (such as `"OLTP"`) from the traces folder and expands every line
/// `start count _ _` into the keys `start..start + count`.
pub fn load(name: &str) -> Result<Vec<u64>, TraceError> {
    let path = dir()?.join(format!("{name}.lis.zst"));
    let io_err = |e| TraceError::Io(path.clone(), e);
    let file = std::fs::File::open(&path).map_err(io_err)?;
    let reader = BufReader::new(zstd::Decoder::new(file).map_err(io_err)?);
    let mut keys = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(io_err)?;
        let mut fields = line.split_ascii_whitespace();
        let mut field = || fields.next().and_then(|f| f.parse::<u64>().ok());
        match (field(), field()) {
            (Some(start), Some(count)) => keys.extend(start..start.saturating_add(count)),
            _ if line.trim().is_empty() => {}
            _ => return Err(TraceError::Parse(path, n + 1, line)),
        }
    }
    Ok(keys)
}
