//! silero-vad forward pass on the labelled clip in `data/vad/`.

use std::path::PathBuf;
use std::sync::OnceLock;

use bbs_eval::silero::{
    evaluate, frame_labels, load_clip, Clip, Error, SileroVad, CHUNK, CONV_MATRICES, LSTM_MATRICES,
};
use ndarray::Array2;

/// The repository's `data/` (tests run in the source tree).
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn weights_path() -> PathBuf {
    data_dir()
        .join("silero-vad")
        .join("silero_vad_16k.safetensors")
}

fn model() -> &'static SileroVad {
    static MODEL: OnceLock<SileroVad> = OnceLock::new();
    MODEL.get_or_init(|| SileroVad::load(&weights_path()).expect("load silero weights"))
}

fn clip() -> &'static Clip {
    static CLIP: OnceLock<Clip> = OnceLock::new();
    CLIP.get_or_init(|| load_clip(&data_dir().join("vad")).expect("load data/vad"))
}

fn dense_probabilities() -> &'static [f32] {
    static PROBS: OnceLock<Vec<f32>> = OnceLock::new();
    PROBS.get_or_init(|| model().probabilities(&clip().audio))
}

#[test]
fn dense_accuracy_on_clip_beats_majority_class() {
    let clip = clip();
    let score = evaluate(model(), clip, 0.5);
    assert_eq!(score.frames, clip.frame_labels.len());
    let speech = clip.frame_labels.iter().filter(|&&s| s).count() as f64;
    let majority = (speech / score.frames as f64).max(1.0 - speech / score.frames as f64);
    // Measured: accuracy 0.946, recall 0.943, false alarms 0.050; majority 0.520.
    assert!(score.accuracy >= 0.90, "{score:?}");
    assert!(
        score.accuracy >= majority + 0.25,
        "{score:?} vs majority {majority}"
    );
    assert!(score.speech_recall >= 0.88, "{score:?}");
    assert!(score.false_alarm_rate <= 0.10, "{score:?}");
}

#[test]
fn probabilities_are_one_per_chunk_and_in_unit_interval() {
    let probs = dense_probabilities();
    assert_eq!(probs.len(), clip().audio.len().div_ceil(CHUNK));
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "{probs:?}");
    assert!(model().probabilities(&[]).is_empty());
    // A partial chunk is zero-padded, not dropped.
    assert_eq!(model().probabilities(&clip().audio[..CHUNK + 1]).len(), 2);
}

#[test]
fn silence_is_low_and_speech_is_high() {
    let (probs, labels) = (dense_probabilities(), &clip().frame_labels);
    // Frames 225..250 lie in the 1.7 s pause between the third and fourth
    // sentences (samples 102150..129350), away from its edges.
    let silence = 225..250;
    assert!(labels[silence.clone()].iter().all(|&s| !s));
    let loudest = probs[silence].iter().cloned().fold(0.0f32, f32::max);
    assert!(loudest < 0.1, "silence up to {loudest}");
    // Frames 108..140 lie inside the second sentence (samples 52258..74266).
    let speech = 108..140;
    assert!(labels[speech.clone()].iter().all(|&s| s));
    let quietest = probs[speech].iter().cloned().fold(1.0f32, f32::min);
    assert!(quietest > 0.9, "speech down to {quietest}");
}

#[test]
fn zeroing_recurrent_matrix_changes_probabilities() {
    let hh = model().matrix("lstm_cell.weight_hh").unwrap();
    assert_eq!(hh.dim(), (512, 128));
    let zeroed = model()
        .with_matrices(&[("lstm_cell.weight_hh".to_string(), Array2::zeros(hh.dim()))])
        .unwrap();
    let probs = zeroed.probabilities(&clip().audio);
    let diff = probs
        .iter()
        .zip(dense_probabilities())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 0.05, "max change {diff}");
    // The original model is untouched.
    assert!(model()
        .matrix("lstm_cell.weight_hh")
        .unwrap()
        .iter()
        .any(|&v| v != 0.0));
}

#[test]
fn replacing_with_same_matrices_is_identity() {
    let m = model();
    let same: Vec<(String, Array2<f32>)> = LSTM_MATRICES
        .iter()
        .chain(&CONV_MATRICES)
        .map(|n| (n.to_string(), m.matrix(n).unwrap().clone()))
        .collect();
    let copy = m.with_matrices(&same).unwrap();
    let audio = &clip().audio[..40 * CHUNK];
    assert_eq!(copy.probabilities(audio), &dense_probabilities()[..40]);
    assert_eq!(m.matrix("conv1.weight").unwrap().dim(), (128, 129 * 3));
    assert!(m.matrix("final_conv.weight").is_none());
}

#[test]
fn with_matrices_rejects_bad_shapes_names_and_values() {
    let m = model();
    let err = m
        .with_matrices(&[("lstm_cell.weight_ih".to_string(), Array2::zeros((128, 512)))])
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    assert!(err.to_string().contains("lstm_cell.weight_ih"), "{err}");

    let err = m
        .with_matrices(&[("lstm.weight".to_string(), Array2::zeros((512, 128)))])
        .unwrap_err();
    assert!(matches!(err, Error::UnknownMatrix { .. }), "{err}");
    assert!(err.to_string().contains("lstm.weight"), "{err}");

    let mut nan = Array2::zeros((512, 128));
    nan[[3, 4]] = f32::NAN;
    let err = m
        .with_matrices(&[("lstm_cell.weight_hh".to_string(), nan)])
        .unwrap_err();
    assert!(err.to_string().contains("(row 3, col 4)"), "{err}");
}

#[test]
fn missing_files_are_named() {
    let dir = data_dir().join("no-such-vad-dir");
    let err = load_clip(&dir).expect_err("missing dir must fail");
    assert!(
        err.to_string().contains("no-such-vad-dir"),
        "message does not name the path: {err}"
    );
    let err = SileroVad::load(&dir.join("w.safetensors")).unwrap_err();
    assert!(err.to_string().contains("w.safetensors"), "{err}");
    // A file that is not safetensors.
    let err = SileroVad::load(&data_dir().join("vad").join("labels.json")).unwrap_err();
    assert!(err.to_string().contains("labels.json"), "{err}");
}

#[test]
fn bad_labels_are_rejected_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("bbs-vad-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        data_dir().join("vad").join("clip.wav"),
        dir.join("clip.wav"),
    )
    .unwrap();
    std::fs::write(
        dir.join("labels.json"),
        r#"{"sample_rate": 16000, "segments": [[100, 99999999]]}"#,
    )
    .unwrap();
    let err = load_clip(&dir).expect_err("segment past the end must fail");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.to_string().contains("labels.json"), "{err}");
}

#[test]
fn frame_is_speech_iff_more_than_half_its_samples_are() {
    assert_eq!(frame_labels(&[[0, 257]], 1024), [true, false]);
    assert_eq!(frame_labels(&[[0, 256]], 1024), [false, false]);
    assert_eq!(frame_labels(&[[700, 1000]], 1000), [false, true]);
    // The last, partial frame counts its padding as non-speech.
    assert_eq!(frame_labels(&[[512, 700]], 700), [false, false]);
}
