//! Per-layer pruning settings: command-line defaults, overridden by a TOML
//! file of rules matched against tensor names (first match wins).
//!
//! ```toml
//! [defaults]          # optional; replaces the command-line defaults
//! sparsity = 0.75
//! banks = 8
//!
//! [[layer]]
//! name = "enc_w_*"    # exact name or glob (* and ?)
//! sparsity = 0.5      # each field optional; missing ones come from the defaults
//! banks = 16
//!
//! [[layer]]
//! name = "fc_w"
//! skip = true         # leave this tensor dense
//! ```

use anyhow::{bail, Context, Result};
use bbs_compress::glob_match;
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSettings {
    pub sparsity: f64,
    pub banks: usize,
    pub skip: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    sparsity: Option<f64>,
    banks: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    sparsity: Option<f64>,
    banks: Option<usize>,
    #[serde(default)]
    skip: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    layer: Vec<Rule>,
}

/// The rules of one run.
#[derive(Debug)]
pub struct LayerRules {
    defaults: LayerSettings,
    rules: Vec<Rule>,
}

impl LayerRules {
    /// Only command-line defaults.
    pub fn new(defaults: LayerSettings) -> Self {
        LayerRules {
            defaults,
            rules: Vec::new(),
        }
    }

    pub fn from_file(path: &Path, cli_defaults: LayerSettings) -> Result<Self> {
        let text = bbs_compress::input::read_text(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let file: LayerFile = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        let defaults = LayerSettings {
            sparsity: file.defaults.sparsity.unwrap_or(cli_defaults.sparsity),
            banks: file.defaults.banks.unwrap_or(cli_defaults.banks),
            skip: false,
        };
        for (i, rule) in file.layer.iter().enumerate() {
            if rule.name.is_empty() {
                bail!("{}: layer {}: empty name", path.display(), i + 1);
            }
        }
        Ok(LayerRules {
            defaults,
            rules: file.layer,
        })
    }

    /// Rewrite every sparsity (defaults and rules), e.g. through a gradual schedule.
    pub fn map_sparsity(&mut self, f: impl Fn(f64) -> Result<f64>) -> Result<()> {
        self.defaults.sparsity = f(self.defaults.sparsity)?;
        for r in &mut self.rules {
            if let Some(s) = r.sparsity {
                r.sparsity = Some(f(s)?);
            }
        }
        Ok(())
    }

    /// Settings for a tensor: the first rule whose name or glob matches, else the defaults.
    pub fn for_tensor(&self, name: &str) -> LayerSettings {
        match self.rules.iter().find(|r| glob_match(&r.name, name)) {
            Some(r) => LayerSettings {
                sparsity: r.sparsity.unwrap_or(self.defaults.sparsity),
                banks: r.banks.unwrap_or(self.defaults.banks),
                skip: r.skip,
            },
            None => self.defaults,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("enc_w_*", "enc_w_ih"));
        assert!(glob_match("*weight_??", "lstm_cell.weight_hh"));
        assert!(glob_match("fc_w", "fc_w"));
        assert!(!glob_match("fc_w", "fc_w2"));
        assert!(!glob_match("enc_*", "dec_w_ih"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn first_matching_rule_wins_and_fills_from_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layers.toml");
        std::fs::write(
            &path,
            "[defaults]\nbanks = 4\n[[layer]]\nname = \"enc_*\"\nsparsity = 0.5\n[[layer]]\nname = \"enc_w_hh\"\nsparsity = 0.9\n[[layer]]\nname = \"fc_w\"\nskip = true\n",
        )
        .unwrap();
        let cli = LayerSettings {
            sparsity: 0.75,
            banks: 8,
            skip: false,
        };
        let rules = LayerRules::from_file(&path, cli).unwrap();
        let s = rules.for_tensor("enc_w_hh");
        assert_eq!((s.sparsity, s.banks, s.skip), (0.5, 4, false));
        let s = rules.for_tensor("dec_w_hh");
        assert_eq!((s.sparsity, s.banks, s.skip), (0.75, 4, false));
        assert!(rules.for_tensor("fc_w").skip);
        std::fs::write(&path, "[[layer]]\nname = \"x\"\nbogus = 1\n").unwrap();
        let err = LayerRules::from_file(&path, cli).unwrap_err().to_string();
        assert!(
            err.contains("layers.toml") && err.contains("bogus"),
            "{err}"
        );
    }
}
