//! The committed reference designs (`hw/designs/<name>/`) are exactly what the
//! generator produces for `hw/configs/<name>.toml`: every file byte for byte,
//! no file that is no longer generated, and a design for every configuration
//! (the serialized machine's and the overlapped one's, `overlap.units`).
//! On a failure, run `scripts/regen-designs.sh` and commit the result.

use bbs_sim::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const REGEN: &str = "run scripts/regen-designs.sh and commit hw/designs/";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, relative to `dir`.
fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, base, out);
        } else {
            out.insert(path.strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

#[test]
fn reference_designs_are_up_to_date() {
    let configs_dir = root().join("hw/configs");
    let designs_dir = root().join("hw/designs");
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&configs_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(!configs.is_empty(), "no configurations in hw/configs");

    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for path in &configs {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        names.insert(name.clone());
        let cfg = Config::from_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let dir = designs_dir.join(&name);
        let design = bbs_hdlgen::generate(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        if !dir.is_dir() {
            problems.push(format!(
                "hw/configs/{name}.toml has no design hw/designs/{name}/"
            ));
            continue;
        }
        let mut expected = BTreeSet::new();
        for f in &design.files {
            expected.insert(f.path.clone());
            let committed = dir.join(&f.path);
            let shown = format!("hw/designs/{name}/{}", f.path.display());
            match std::fs::read(&committed) {
                Err(e) => problems.push(format!("{shown}: missing ({e})")),
                Ok(bytes) if bytes != f.contents.as_bytes() => {
                    let text = String::from_utf8_lossy(&bytes);
                    let line = text
                        .lines()
                        .zip(f.contents.lines())
                        .position(|(a, b)| a != b)
                        .map(|i| i + 1)
                        .unwrap_or_else(|| {
                            text.lines().count().min(f.contents.lines().count()) + 1
                        });
                    problems.push(format!(
                        "{shown}: differs from the generated file (first at line {line})"
                    ));
                }
                Ok(_) => {}
            }
        }
        let mut present = BTreeSet::new();
        files_under(&dir, &dir, &mut present);
        for stale in present.difference(&expected) {
            problems.push(format!(
                "hw/designs/{name}/{}: not generated any more (stale file)",
                stale.display()
            ));
        }
    }
    for entry in std::fs::read_dir(&designs_dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !names.contains(&file) {
                problems.push(format!(
                    "hw/designs/{file}/: no configuration hw/configs/{file}.toml (stale design)"
                ));
            }
        } else if file != "README.md" {
            problems.push(format!("hw/designs/{file}: stale file"));
        }
    }
    assert!(
        problems.is_empty(),
        "the reference designs are out of date ({REGEN}):\n  {}",
        problems.join("\n  ")
    );
}
