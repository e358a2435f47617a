//! The reference configurations in `hw/configs/` parse and validate, and
//! `default.toml` is the built-in default.

use bbs_sim::Config;
use std::path::PathBuf;

#[test]
fn reference_configurations_are_valid_and_default_matches_builtin() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hw/configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let cfg = Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Some(cfg.name.as_str()),
            path.file_stem().and_then(|s| s.to_str())
        );
        n += 1;
    }
    assert!(n >= 3);
    assert_eq!(
        Config::from_file(&dir.join("default.toml")).unwrap(),
        Config::default()
    );
}
