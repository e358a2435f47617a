//! The g2p-en GRU on CMUdict: dense accuracy, known predictions, weight
//! swapping and error reporting. Needs `scripts/fetch-data.sh` to have run;
//! without the data the tests print SKIPPED, except under CI=true where they fail.

use std::path::PathBuf;
use std::sync::OnceLock;

use approx::abs_diff_eq;
use bbs_eval::g2p::{evaluate, load_cmudict, sample, Entry, Error, G2p, G2pScore, GRU_MATRICES};
use ndarray::Array2;

/// Word accuracy of the dense model on `sample(_, 2000)`, measured once
/// (identical to the numpy re-implementation of g2p.py on the same words).
const DENSE_WORD_ACCURACY: f64 = 0.6715;
const SAMPLE_WORDS: usize = 2000;

/// `data/cache/` of the repository, where `scripts/fetch-data.sh` puts the
/// data (tests run in the source tree).
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/cache")
}

fn model_path() -> PathBuf {
    cache_dir().join("g2p_en").join("checkpoint20.npz")
}

fn dict_path() -> PathBuf {
    cache_dir().join("cmudict").join("cmudict.dict")
}

struct Fixture {
    model: G2p,
    dict: Vec<Entry>,
    sample: Vec<Entry>,
    dense: G2pScore,
}

/// The model, the dictionary, the 2000-word sample and its dense score,
/// loaded once for all tests; `None` (after printing SKIPPED) when the data
/// has not been fetched, a panic instead under CI=true.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let missing: Vec<PathBuf> = [model_path(), dict_path()]
                .into_iter()
                .filter(|p| !p.is_file())
                .collect();
            if !missing.is_empty() {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "g2p data missing under CI: {missing:?}; run scripts/fetch-data.sh first"
                    );
                }
                println!("SKIPPED g2p tests: {missing:?} missing; run scripts/fetch-data.sh");
                return None;
            }
            let model = G2p::load(&model_path()).expect("load the g2p checkpoint");
            let dict = load_cmudict(&dict_path()).expect("load CMUdict");
            let sample = sample(&dict, SAMPLE_WORDS);
            let dense = evaluate(&model, &sample);
            Some(Fixture {
                model,
                dict,
                sample,
                dense,
            })
        })
        .as_ref()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bbs-eval-g2p-{}-{name}", std::process::id()))
}

fn phonemes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn dense_accuracy_on_the_2000_word_sample() {
    let Some(f) = fixture() else { return };
    let s = &f.dense;
    println!("dense g2p on {} words: {s:?}", s.words);
    assert_eq!(s.words, SAMPLE_WORDS);
    assert!(
        abs_diff_eq!(s.word_accuracy, DENSE_WORD_ACCURACY, epsilon = 0.03),
        "word accuracy {} is not within 3 points of {DENSE_WORD_ACCURACY}",
        s.word_accuracy
    );
    assert!(
        (0.60..=0.78).contains(&s.word_accuracy),
        "word accuracy {}",
        s.word_accuracy
    );
    assert!(
        (0.05..=0.15).contains(&s.phoneme_error_rate),
        "PER {}",
        s.phoneme_error_rate
    );
}

#[test]
fn sample_follows_its_rule() {
    let Some(f) = fixture() else { return };
    let s = &f.sample;
    assert_eq!(s.len(), SAMPLE_WORDS);
    assert_eq!(s[0].word, "aaa", "the first filtered word comes first");
    for w in s.windows(2) {
        assert!(w[0].word < w[1].word, "{} !< {}", w[0].word, w[1].word);
    }
    for e in s {
        assert!((2..=20).contains(&e.word.len()), "{}", e.word);
        assert!(e.word.bytes().all(|b| b.is_ascii_lowercase()), "{}", e.word);
    }
    assert_eq!(sample(&f.dict, SAMPLE_WORDS), *s, "deterministic");
}

#[test]
fn cmudict_keeps_the_first_pronunciation() {
    let Some(f) = fixture() else { return };
    let find = |w: &str| {
        f.dict
            .iter()
            .find(|e| e.word == w)
            .map(|e| e.phonemes.clone())
    };
    assert_eq!(find("a"), Some(phonemes("AH0")));
    assert_eq!(find("read"), Some(phonemes("R EH1 D")));
    assert_eq!(find("tomato"), Some(phonemes("T AH0 M EY1 T OW2")));
    // Trailing comments are dropped.
    assert_eq!(find("aalborg"), Some(phonemes("AO1 L B AO0 R G")));
    assert!(!f.dict.iter().any(|e| e.word.contains('(')));
}

#[test]
fn known_words_predict_their_cmudict_pronunciation() {
    let Some(f) = fixture() else { return };
    let known = [
        ("fasting", "F AE1 S T IH0 NG"),
        ("cornea", "K AO1 R N IY0 AH0"),
        ("topsoil", "T AA1 P S OY2 L"),
        ("rheumatism", "R UW1 M AH0 T IH2 Z AH0 M"),
        ("sensibility", "S EH2 N S IH0 B IH1 L IH0 T IY0"),
    ];
    for (word, pron) in known {
        let entry = f.dict.iter().find(|e| e.word == word).expect(word);
        assert_eq!(entry.phonemes, phonemes(pron), "CMUdict {word}");
        assert_eq!(f.model.predict(word), phonemes(pron), "predict({word})");
    }
    // The out-of-vocabulary example of g2p-en's README.
    assert_eq!(
        f.model.predict("activationist"),
        phonemes("AE2 K T IH0 V EY1 SH AH0 N IH0 S T")
    );
}

#[test]
fn evaluate_agrees_with_word_by_word_predict() {
    let Some(f) = fixture() else { return };
    let small = sample(&f.dict, 150);
    let correct = small
        .iter()
        .filter(|e| f.model.predict(&e.word) == e.phonemes)
        .count();
    let s = evaluate(&f.model, &small);
    assert_eq!(s.words, 150);
    assert_eq!(s.word_accuracy, correct as f64 / 150.0);
}

#[test]
fn with_matrices_checks_names_and_shapes() {
    let Some(f) = fixture() else { return };
    let m = &f.model;
    for name in GRU_MATRICES.iter().chain(&["fc_w"]) {
        assert!(m.matrix(name).is_some(), "{name}");
    }
    assert!(m.matrix("enc_emb").is_none());

    let w = m.matrix("enc_w_hh").expect("enc_w_hh").clone();
    let wrong = Array2::<f32>::zeros((w.nrows(), w.ncols() + 1));
    let e = m
        .with_matrices(&[("enc_w_hh".to_string(), wrong)])
        .expect_err("a wrong shape must be rejected");
    assert!(matches!(e, Error::Matrix { .. }), "{e:?}");
    assert!(
        e.to_string().contains("enc_w_hh") && e.to_string().contains("shape"),
        "{e}"
    );

    let e = m
        .with_matrices(&[("dec_w_xx".to_string(), w.clone())])
        .expect_err("an unknown name must be rejected");
    assert!(e.to_string().contains("dec_w_xx"), "{e}");

    let mut nan = w.clone();
    nan[[3, 5]] = f32::NAN;
    let e = m
        .with_matrices(&[("enc_w_hh".to_string(), nan)])
        .expect_err("NaN must be rejected");
    assert!(e.to_string().contains("row 3, col 5"), "{e}");

    let e = m
        .with_matrices(&[
            ("enc_w_hh".to_string(), w.clone()),
            ("enc_w_hh".to_string(), w.clone()),
        ])
        .expect_err("a repeated name must be rejected");
    assert!(e.to_string().contains("more than once"), "{e}");

    // Swapping in the same weights changes nothing.
    let same = m
        .with_matrices(&[("enc_w_hh".to_string(), w)])
        .expect("same shape");
    assert_eq!(same.predict("sensibility"), m.predict("sensibility"));
}

#[test]
fn zeroing_the_decoder_recurrence_ruins_accuracy() {
    let Some(f) = fixture() else { return };
    let w = f.model.matrix("dec_w_hh").expect("dec_w_hh");
    let zeroed = f
        .model
        .with_matrices(&[("dec_w_hh".to_string(), Array2::zeros(w.dim()))])
        .expect("same shape");
    assert_eq!(zeroed.matrix("dec_w_hh").map(|m| m.sum()), Some(0.0));
    let s = evaluate(&zeroed, &f.sample);
    println!("dec_w_hh zeroed: {s:?}");
    assert!(
        s.word_accuracy < f.dense.word_accuracy - 0.3,
        "accuracy {} vs dense {}",
        s.word_accuracy,
        f.dense.word_accuracy
    );
    assert!(s.phoneme_error_rate > f.dense.phoneme_error_rate + 0.2);
    // The original model is untouched.
    assert_eq!(f.model.predict("fasting"), phonemes("F AE1 S T IH0 NG"));
}

#[test]
fn load_of_a_missing_file_names_it() {
    let path = scratch("no-such-checkpoint.npz");
    let e = G2p::load(&path).expect_err("missing file");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[test]
fn load_of_a_checkpoint_without_biases_names_file_and_tensor() {
    let path = scratch("no-biases.npz");
    let file = std::fs::File::create(&path).expect("create scratch npz");
    let mut npz = ndarray_npy::NpzWriter::new(file);
    let shapes = [
        ("enc_emb", (29, 8)),
        ("enc_w_ih", (12, 8)),
        ("enc_w_hh", (12, 4)),
        ("dec_emb", (74, 8)),
        ("dec_w_ih", (12, 8)),
        ("dec_w_hh", (12, 4)),
        ("fc_w", (74, 4)),
    ];
    for (name, shape) in shapes {
        npz.add_array(name, &Array2::<f32>::zeros(shape))
            .expect("write scratch npz");
    }
    npz.finish().expect("finish scratch npz");
    let result = G2p::load(&path);
    std::fs::remove_file(&path).ok();
    let e = result.expect_err("biases missing");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("enc_b_ih"), "{msg}");
}

fn cmudict_error(name: &str, text: &str) -> (PathBuf, String) {
    let path = scratch(name);
    std::fs::write(&path, text).expect("write scratch dict");
    let result = load_cmudict(&path);
    std::fs::remove_file(&path).ok();
    (path, result.expect_err("malformed dict").to_string())
}

#[test]
fn load_cmudict_names_file_and_line_of_a_malformed_line() {
    let (path, msg) = cmudict_error("no-phonemes.dict", "a AH0\n# note\nabc\nb B IY1\n");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");

    let (path, msg) = cmudict_error("bad-phoneme.dict", "a AH0\nb B IY7\n");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("line 2") && msg.contains("IY7"), "{msg}");

    let path = scratch("missing.dict");
    let e = load_cmudict(&path).expect_err("missing file");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[test]
fn load_cmudict_reads_alternates_and_comments() {
    let path = scratch("good.dict");
    std::fs::write(
        &path,
        ";;; old-style comment\nread R EH1 D\nread(2) R IY1 D # past\n\naalto AA1 L T OW2 # name\n",
    )
    .expect("write scratch dict");
    let result = load_cmudict(&path);
    std::fs::remove_file(&path).ok();
    let d = result.expect("well-formed dict");
    assert_eq!(
        d,
        vec![
            Entry {
                word: "read".to_string(),
                phonemes: phonemes("R EH1 D"),
            },
            Entry {
                word: "aalto".to_string(),
                phonemes: phonemes("AA1 L T OW2"),
            },
        ]
    );
}
