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
    // ---- The machine around the PE array ----
    /// Vector memory depth (elements), address and length widths.
    pub vmem_depth: u64,
    pub vaddr_w: u64,
    pub vlen_w: u64,
    /// Width of the element offsets the sequencer counts (len + lanes fits).
    pub off_w: u64,
    /// EWOP/ACT lanes and pipeline registers.
    pub lanes: u64,
    pub ew_latency: u64,
    /// Host link: whole elements per AXI4-Stream beat, bytes per element, tdata bits.
    pub beat_el: u64,
    pub elem_bytes: u64,
    pub beat_w: u64,
    pub beat_bytes: u64,
    /// Vector-memory ports: A (SpMxV load, EWOP a, ACT, store), B (EWOP b), write.
    pub ports_a: u64,
    pub ports_b: u64,
    pub ports_w: u64,
    /// Instruction buffer: depth, address width, program-counter width (0..=depth).
    pub imem_depth: u64,
    pub imem_addr_w: u64,
    pub pc_w: u64,
    /// The instruction word's fields (see `crate::program`).
    pub instr_w: u64,
    pub fields: Vec<crate::program::Field>,
    /// ACT tables (PWL, `bbs_sim::act`): first knot, log2 of the segment width,
    /// slope width, and one `case` line per (function, segment).
    pub act_x_min: String,
    pub act_x_max: String,
    pub act_step_log2: u64,
    pub act_slope_w: u64,
    pub act_lines: Vec<String>,
    /// ACT datapath widths: slope * offset product, its rounded shift, the sum with the base.
    pub act_prod_w: u64,
    pub act_r_w: u64,
    pub act_y_w: u64,
    /// `2^(F-1)` literals for the ACT product and the EWOP multiply (F = 0: no rounding).
    pub act_half: String,
    pub mul_half: String,
    /// Width in which vector-memory addresses are summed before truncation.
    pub xw: u64,
    /// The host model's answer time (testbench only).
    pub link_latency: u64,
    /// Vector-memory banks (a power of two, at least `ports_w`): element `e`
    /// lives in bank `e % vbanks`, row `e / vbanks`; bank-select bits (0 for
    /// one bank), rows per bank and row-address width.
    pub vbanks: u64,
    pub vbank_list: Vec<usize>,
    pub vbank_sel_w: u64,
    pub vbank_depth: u64,
    pub vbank_row_w: u64,
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
        let act = act_rom(cfg);
        let vbanks = cfg.vector_banks();
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
            vmem_depth: w(cfg.memory.vector_words),
            vaddr_w: clog2(cfg.memory.vector_words) as u64,
            vlen_w: clog2(cfg.memory.vector_words + 1) as u64,
            off_w: clog2(cfg.memory.vector_words + cfg.ewop.lanes.max(cfg.beat_elements()) + 1)
                as u64,
            lanes: w(cfg.ewop.lanes),
            ew_latency: cfg.ewop.latency as u64,
            beat_el: w(cfg.beat_elements()),
            elem_bytes: cfg.value_width.div_ceil(8) as u64,
            beat_w: 8 * w(cfg.beat_elements()) * cfg.value_width.div_ceil(8) as u64,
            beat_bytes: w(cfg.beat_elements()) * cfg.value_width.div_ceil(8) as u64,
            ports_a: w(cfg.banks.max(cfg.ewop.lanes).max(cfg.beat_elements())),
            ports_b: w(cfg.ewop.lanes),
            ports_w: w(cfg.pes.max(cfg.ewop.lanes).max(cfg.beat_elements())),
            imem_depth: w(cfg.memory.instruction_words),
            imem_addr_w: clog2(cfg.memory.instruction_words) as u64,
            pc_w: clog2(cfg.memory.instruction_words + 1) as u64,
            instr_w: crate::program::Layout::new(cfg).width,
            fields: crate::program::Layout::new(cfg).fields,
            act_x_min: act.x_min,
            act_x_max: act.x_max,
            act_step_log2: act.step_log2,
            act_slope_w: act.slope_w,
            act_lines: act.lines,
            act_prod_w: act.slope_w + act.step_log2 + 1,
            act_r_w: act.slope_w + act.step_log2 + 2 - frac,
            act_y_w: (cfg.value_width as u64).max(act.slope_w + act.step_log2 + 2 - frac) + 1,
            act_half: half_literal(act.slope_w + act.step_log2 + 2, frac),
            mul_half: half_literal(2 * cfg.value_width as u64 + 1, frac),
            xw: {
                let vaddr = clog2(cfg.memory.vector_words) as u64;
                let off =
                    clog2(cfg.memory.vector_words + cfg.ewop.lanes.max(cfg.beat_elements()) + 1)
                        as u64;
                let col = cfg.index_width() as u64 + 1 + clog2(cfg.banks + 1) as u64;
                let row = clog2(rows_per_pe) as u64 + clog2(cfg.pes + 1) as u64;
                vaddr.max(off).max(col).max(row) + 2
            },
            link_latency: cfg.host.link_latency as u64,
            vbanks: vbanks as u64,
            vbank_list: (0..vbanks).collect(),
            vbank_sel_w: vbanks.trailing_zeros() as u64,
            vbank_depth: cfg.memory.vector_words.div_ceil(vbanks) as u64,
            vbank_row_w: clog2(cfg.memory.vector_words.div_ceil(vbanks)) as u64,
        }
    }
}

/// `2^(frac-1)` as a `width`-bit literal, `0` when `frac` is 0.
fn half_literal(width: u64, frac: u64) -> String {
    if frac == 0 {
        format!("{width}'d0")
    } else {
        format!("{width}'d{}", 1u64 << (frac - 1))
    }
}

struct ActRom {
    x_min: String,
    x_max: String,
    step_log2: u64,
    slope_w: u64,
    lines: Vec<String>,
}

/// The ACT unit's ROM: `{func, segment}` -> `{slope, base}` for sigmoid
/// (func 0) and tanh (func 1), the same integers as `bbs_sim::act::ActTable`.
fn act_rom(cfg: &Config) -> ActRom {
    use bbs_sim::act::{ActFn, ActTable};
    let fmt = cfg.format();
    let tables = [
        ActTable::new(ActFn::Sigmoid, fmt),
        ActTable::new(ActFn::Tanh, fmt),
    ];
    let slope_w = bbs_sim::act::slope_width(fmt) as u64;
    let w = cfg.value_width as u64;
    let seg_w = bbs_sim::act::SEGMENTS.trailing_zeros() as u64;
    let mut lines = Vec::new();
    for (f, t) in tables.iter().enumerate() {
        for s in 0..bbs_sim::act::SEGMENTS {
            let slope = (t.slope[s] as u64) & ((1u64 << slope_w) - 1);
            let base = (t.base[s] as u64) & ((1u64 << w) - 1);
            lines.push(format!(
                "{}'d{}: rom_d = {{{slope_w}'d{slope}, {w}'d{base}}};",
                seg_w + 1,
                (f << seg_w) | s
            ));
        }
    }
    // x_min and x_max as (W+1)-bit two's complement literals.
    let lit = |v: i64| format!("{}'d{}", w + 1, (v as u64) & ((1u64 << (w + 1)) - 1));
    ActRom {
        x_min: lit(tables[0].x_min),
        // Inputs never exceed the format's maximum: clamp there if the table reaches past it.
        x_max: lit(tables[0].x_max().min(fmt.max())),
        step_log2: tables[0].step_log2 as u64,
        slope_w,
        lines,
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
