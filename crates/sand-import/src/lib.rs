//! SAND's exchange format for exam results (docs/import-format.md): a TOML manifest per
//! batch and a `;`-separated data file, read as a stream into the domain's import; and
//! synthetic batches for demos, tests and benchmarks.

pub mod manifest;
pub mod reader;
pub mod registry;
pub mod synthetic;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sand_domain::record::BatchFingerprint;
use sha2::{Digest, Sha256};

pub use manifest::{Encoding, Manifest, ManifestError, read_manifest};
pub use reader::{BatchReader, COLUMNS, LineResult, MAX_LINE_BYTES};

/// SHA-256 of a file and its size, read in 64 KiB blocks.
///
/// # Errors
/// Any I/O error.
pub fn fingerprint_file(path: &Path) -> io::Result<(BatchFingerprint, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((BatchFingerprint(hasher.finalize().into()), size))
}
