//! Every width and constant of the generated RTL, derived once from the
//! configuration so the templates only print them.

use bbs_sim::arith::{ceil_log2, clog2};
use bbs_sim::Config;

pub struct RtlParams {
    pub module_doc: String,
    pub bbs_version: &'static str,
    pub cfg_name: String,
    /// The configuration, one `key = value` per line, for file headers.
    pub config_lines: Vec<String>,
    pub pes: u64,
    pub pe_list: Vec<usize>,
    pub banks: u64,
    pub value_w: u64,
    pub frac_bits: u64,
    pub acc_w: u64,
    pub prod_w: u64,
    pub tree_w: u64,
    pub index_w: u64,
    pub bank_depth: u64,
    pub mat_word_w: u64,
    pub mat_depth: u64,
    pub mat_addr_w: u64,
    pub rows_per_pe: u64,
    pub local_row_w: u64,
    pub rows_w: u64,
    pub row_base_w: u64,
    pub slots_w: u64,
    pub vec_words_w: u64,
    pub pe_sel_w: u64,
    pub mult_stages: u64,
    pub adder_stages: u64,
    /// Pipeline stage (cycles after issue) at which the accumulator adds a word.
    pub acc_stage: u64,
    pub drain_cycles: u64,
    pub drain_w: u64,
    /// `2^(F-1)` as an `(A+1)`-bit literal (0 when F = 0).
    pub round_half: String,
    /// The adder tree's wire declarations, one per line.
    pub tree_lines: Vec<String>,
}

impl RtlParams {
    pub fn new(cfg: &Config, module_doc: &str) -> RtlParams {
        let w = |v: usize| v as u64;
        let prod_w = 2 * cfg.value_width as u64;
        let levels = ceil_log2(cfg.banks) as u64;
        let rows_w = clog2(cfg.max_rows + 1) as u64;
        let rows_per_pe = cfg.rows_per_pe();
        let frac = cfg.frac_bits as u64;
        let acc_w = cfg.acc_width as u64;
        RtlParams {
            module_doc: module_doc.to_string(),
            bbs_version: env!("CARGO_PKG_VERSION"),
            cfg_name: cfg.name.clone(),
            config_lines: cfg
                .to_toml()
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            pes: w(cfg.pes),
            pe_list: (0..cfg.pes).collect(),
            banks: w(cfg.banks),
            value_w: cfg.value_width as u64,
            frac_bits: frac,
            acc_w,
            prod_w,
            tree_w: prod_w + levels,
            index_w: cfg.index_width() as u64,
            bank_depth: w(cfg.bank_depth()),
            mat_word_w: cfg.matrix_word_width() as u64,
            mat_depth: w(cfg.matrix_depth()),
            mat_addr_w: clog2(cfg.matrix_depth()) as u64,
            rows_per_pe: w(rows_per_pe),
            local_row_w: clog2(rows_per_pe) as u64,
            rows_w,
            // row_base + pes is compared with rows: room for both, plus one bit.
            row_base_w: (clog2(rows_per_pe * cfg.pes + 1) as u64).max(rows_w + 1),
            slots_w: clog2(cfg.max_slots + 1) as u64,
            vec_words_w: cfg.index_width() as u64 + 1,
            pe_sel_w: clog2(cfg.pes) as u64,
            mult_stages: cfg.pipeline.mult_stages as u64,
            adder_stages: cfg.pipeline.adder_stages as u64,
            acc_stage: 2 + cfg.pipeline.mult_stages as u64 + cfg.pipeline.adder_stages as u64,
            drain_cycles: cfg.drain_cycles(),
            drain_w: clog2(cfg.drain_cycles() as usize) as u64,
            round_half: if frac == 0 {
                format!("{}'d0", acc_w + 1)
            } else {
                format!("{}'d{}", acc_w + 1, 1u64 << (frac - 1))
            },
            tree_lines: adder_tree_lines(cfg.banks, prod_w as u32),
        }
    }
}

/// A `k`-input adder tree as Verilog wire declarations: level 0 slices the
/// products, each later level adds neighbours pairwise (an odd one passes
/// through) one bit wider, with explicit sign extension.
fn adder_tree_lines(k: usize, prod_w: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for b in 0..k {
        lines.push(format!(
            "wire [{}:0] t0_{b} = prod_i[{}:{}];",
            prod_w - 1,
            (b as u32 + 1) * prod_w - 1,
            b as u32 * prod_w
        ));
    }
    let mut count = k;
    let mut level = 0u32;
    while count > 1 {
        let w = prod_w + level; // width of this level's terms
        let ext = |i: usize| format!("{{t{level}_{i}[{}], t{level}_{i}}}", w - 1);
        let next = count.div_ceil(2);
        for j in 0..next {
            let expr = if 2 * j + 1 < count {
                format!("{} + {}", ext(2 * j), ext(2 * j + 1))
            } else {
                ext(2 * j)
            };
            lines.push(format!("wire [{}:0] t{}_{j} = {expr};", w, level + 1));
        }
        count = next;
        level += 1;
    }
    lines.push(format!("assign sum_o = t{level}_0;"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_of_three_passes_the_odd_term_through() {
        let lines = adder_tree_lines(3, 4);
        assert_eq!(
            lines,
            vec![
                "wire [3:0] t0_0 = prod_i[3:0];",
                "wire [3:0] t0_1 = prod_i[7:4];",
                "wire [3:0] t0_2 = prod_i[11:8];",
                "wire [4:0] t1_0 = {t0_0[3], t0_0} + {t0_1[3], t0_1};",
                "wire [4:0] t1_1 = {t0_2[3], t0_2};",
                "wire [5:0] t2_0 = {t1_0[4], t1_0} + {t1_1[4], t1_1};",
                "assign sum_o = t2_0;",
            ]
        );
    }

    #[test]
    fn tree_of_one_is_a_wire() {
        assert_eq!(
            adder_tree_lines(1, 8),
            vec!["wire [7:0] t0_0 = prod_i[7:0];", "assign sum_o = t0_0;"]
        );
    }
}
