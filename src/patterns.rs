//! What the `bbs` reports compare BBS against, in one place: the pattern
//! families and their names, the comparison sets and the sparsity grids of
//! `bbs prune --compare/--plot` ([`crate::model_prune`], [`crate::report`])
//! and `bbs eval` ([`crate::accuracy`]).
//!
//! A pattern's own name is [`Pattern::label`] (`BBS (8 banks)`, `2:4`); its
//! family ([`family`]) is the name that stays the same across layers and
//! sparsities (`BBS`, `N:M`), for whole-model totals and plot lines. These
//! strings appear in `report.json`, `report.md` and the eval tables: change
//! them and the reports change.

use bbs_compress::patterns::Pattern;

/// Sparsities of the whole-model error sweep behind `error-vs-sparsity.svg`.
pub const SWEEP_SPARSITIES: [f64; 6] = [0.25, 0.5, 0.625, 0.75, 0.875, 0.9375];

/// Sparsities of the `bbs eval` accuracy tables.
pub const EVAL_SPARSITIES: [f64; 4] = [0.25, 0.5, 0.75, 0.875];

/// Columns per bank for BBS in the `bbs eval` tables (16 columns per bank:
/// 16 banks for g2p's 256 columns, 8 for silero's 128).
pub const EVAL_BANK_SIZE: usize = 16;

/// Side of the blocks of the block pattern the reports compare against.
pub const COMPARISON_BLOCK: usize = 4;

/// The families of [`comparison_patterns`], in its order (`N:M` is listed
/// even though a sparsity may have none).
pub const COMPARISON_FAMILIES: [&str; 5] =
    ["BBS", "unstructured", "N:M", "block 4x4", "row-balanced"];

/// A pattern's family, the same for every layer (BBS banks and the N:M
/// ratio may differ per layer or sparsity): `BBS`, `N:M`, else its label.
pub fn family(p: &Pattern) -> String {
    match p {
        Pattern::Bbs { .. } => "BBS".into(),
        Pattern::NM { .. } => "N:M".into(),
        other => other.label(),
    }
}

/// N:M with the smallest M in {4, 8, 16, 32} that realizes `sparsity` exactly.
pub fn nm_for(sparsity: f64) -> Option<Pattern> {
    [4usize, 8, 16, 32].into_iter().find_map(|m| {
        let n = (1.0 - sparsity) * m as f64;
        (n >= 1.0 && (n - n.round()).abs() < 1e-9).then(|| Pattern::NM {
            n: n.round() as usize,
            m,
        })
    })
}

/// The comparison set at a sparsity: BBS with `banks` banks, unstructured,
/// the N:M of [`nm_for`] (when there is one), 4x4 blocks and row-balanced.
pub fn comparison_patterns(banks: usize, sparsity: f64) -> Vec<Pattern> {
    let mut v = vec![Pattern::Bbs { banks }, Pattern::Unstructured];
    v.extend(nm_for(sparsity));
    v.push(Pattern::Block {
        size: COMPARISON_BLOCK,
    });
    v.push(Pattern::RowBalanced);
    v
}

/// The patterns of a `bbs eval` table at one sparsity for matrices of
/// `cols` columns: [`comparison_patterns`] with [`EVAL_BANK_SIZE`]-column
/// banks, without row-balanced.
pub fn eval_patterns(sparsity: f64, cols: usize) -> Vec<Pattern> {
    let mut v = comparison_patterns(cols / EVAL_BANK_SIZE, sparsity);
    v.retain(|p| *p != Pattern::RowBalanced);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_families_follow_the_comparison_set() {
        // 0.75 has an N:M (1:4), so every family is there, in order.
        let families: Vec<String> = comparison_patterns(8, 0.75).iter().map(family).collect();
        assert_eq!(families, COMPARISON_FAMILIES);
    }

    #[test]
    fn names_in_the_reports() {
        let labels = |ps: Vec<Pattern>| -> Vec<String> { ps.iter().map(Pattern::label).collect() };
        assert_eq!(
            labels(comparison_patterns(8, 0.875)),
            [
                "BBS (8 banks)",
                "unstructured",
                "1:8",
                "block 4x4",
                "row-balanced"
            ]
        );
        assert_eq!(
            labels(eval_patterns(0.5, 256)),
            ["BBS (16 banks)", "unstructured", "2:4", "block 4x4"]
        );
        // 0.3 of 4, 8, 16 or 32 is no whole number: no N:M.
        assert_eq!(nm_for(0.3), None);
        assert_eq!(family(&Pattern::NM { n: 1, m: 8 }), "N:M");
    }
}
