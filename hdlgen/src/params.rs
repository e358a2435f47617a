//! What the templates print: the machine's contract from `bbs_sim::arch`
//! (widths, the vector memory, opcodes, states, register addresses, the
//! instruction fields) and the configuration's own values, plus what only
//! the Verilog needs (literals, the adder tree's wires, the ACT ROM's lines).
//! Nothing here derives a width: `arch::Widths` does, once.

use bbs_sim::act::{self, ActFn, ActTable};
use bbs_sim::arch::encoding::{self, UNIT_OP_ACT};
use bbs_sim::arch::{
    timing, CtrlState, Field, HostReg, Layout, Opcode, SeqState, VectorMemory, Widths,
};
use bbs_sim::arith::clog2;
use bbs_sim::isa::EwOp;
use bbs_sim::Config;

pub struct RtlParams {
    pub module_doc: String,
    pub bbs_version: &'static str,
    pub cfg_name: String,
    /// The configuration, one `key = value` per line, for file headers.
    pub config_lines: Vec<String>,
    /// Every width of the RTL.
    pub w: Widths,
    /// The vector memory's banks and ports.
    pub vm: VectorMemory,
    // ---- The configuration's values ----
    pub pes: usize,
    pub pe_list: Vec<usize>,
    pub banks: usize,
    pub frac_bits: u32,
    pub bank_depth: usize,
    pub mat_depth: usize,
    pub mult_stages: u32,
    pub adder_stages: u32,
    pub lanes: usize,
    pub ew_latency: u32,
    /// Whole elements per AXI4-Stream beat.
    pub beat_el: usize,
    pub imem_depth: usize,
    /// The host model's answer time (testbench only).
    pub link_latency: u32,
    pub vbank_list: Vec<usize>,
    // ---- Timing (arch::timing) ----
    /// Pipeline stage (cycles after issue) at which the accumulator adds a word.
    pub acc_stage: u64,
    pub drain_cycles: u64,
    // ---- Encodings (arch::encoding, arch::fsm, arch::host) ----
    /// The instruction word's fields.
    pub fields: Vec<Field>,
    /// The `op` field's part-select, e.g. `[2:0]`.
    pub op_range: String,
    /// `localparam` lines (joined by a newline and the templates' two-space
    /// indent): the sequencer's and the controller's states, the opcodes the
    /// sequencer and the top decode, the register addresses.
    pub seq_states: String,
    pub ctrl_states: String,
    pub seq_ops: String,
    pub top_ops: String,
    pub host_regs: String,
    /// Register addresses as literals, for the testbench.
    pub reg_ctrl: String,
    pub reg_ninstr: String,
    pub reg_cycles: String,
    pub reg_frames: String,
    /// The EWOP/ACT unit's operations: add, sub, mul, copy, sigmoid, tanh, relu;
    /// an `act`'s operation is `{act_op_hi, func}`, an `ewop`'s `{ew_op_pad, func}`.
    pub unit_add: u64,
    pub unit_sub: u64,
    pub unit_mul: u64,
    pub unit_copy: u64,
    pub unit_sigmoid: u64,
    pub unit_tanh: u64,
    pub unit_relu: u64,
    pub act_op_hi: String,
    pub ew_op_pad: String,
    // ---- Verilog only ----
    /// `2^(F-1)` as an `(A+1)`-bit literal (0 when F = 0).
    pub round_half: String,
    /// The adder tree's wire declarations, one per line.
    pub tree_lines: Vec<String>,
    /// ACT tables (PWL, `bbs_sim::act`): first and last knot as literals,
    /// segments and range, and one `case` line per (function, segment).
    pub act_x_min: String,
    pub act_x_max: String,
    pub act_segments: usize,
    pub act_range: f64,
    pub act_lines: Vec<String>,
    /// `2^(F-1)` literals for the ACT product and the EWOP multiply (F = 0: no rounding).
    pub act_half: String,
    pub mul_half: String,
    /// The overlapped machine's sizes (`overlap.units`; otherwise only
    /// `vbuf = 1` matters, for the PEs' private banks).
    pub ov: OverlapParams,
}

/// Sizes of the overlapped machine's issue stage and vector memory
/// (docs/architecture.md, "The overlapped machine in RTL").
pub struct OverlapParams {
    pub on: bool,
    /// Private vector-bank copies per PE bank (`overlap.vector_buffers`).
    pub vbuf: usize,
    pub act_unit: bool,
    /// Units with an issue list: DMA in, DMA out, vector load, PE array,
    /// EWOP (and ACT with `act_unit`).
    pub units: usize,
    /// Run read ports of the vector memory: EWOP a, EWOP b, store (and
    /// ACT; and the vector load with `interleaved`, the last).
    pub runs: usize,
    /// Bank-interleaved vectors (`overlap.interleaved`): the vector load
    /// reads a run of `load_run` words a cycle through run port `run_vl`
    /// instead of `banks` strided load ports.
    pub interleaved: bool,
    /// Positions each private bank takes per load cycle
    /// (`overlap.load_width`): each bank is that many sub-banks.
    pub load_width: usize,
    /// `log2(load_width)`.
    pub lw_log2: usize,
    /// Words the vector load moves a cycle: `banks * load_width` with
    /// `interleaved`, else `banks`.
    pub load_run: usize,
    /// The vector load's run port (with `interleaved`).
    pub run_vl: usize,
    /// Positions of one copy of a sub-bank: `ceil(bank_depth / load_width)`.
    pub sub_depth: usize,
    /// Address bits of a sub-bank (all its copies).
    pub w_sub_addr: usize,
    /// Writer groups of the vector memory: DMA in, PEs, EWOP (and ACT).
    pub groups: usize,
    pub max_waits: usize,
    pub w_frame: usize,
    pub w_instr: usize,
    pub w_stamp: usize,
    pub w_after: usize,
    /// One wait-table entry: valid, instruction, previous frame, of write,
    /// gates write, after.
    pub w_wait: usize,
    pub list_depth: usize,
    pub w_list: usize,
    /// The host's issue-table write port: address and data bits.
    pub w_tab_addr: usize,
    pub w_tab_data: usize,
    /// Address bits of a double-buffered private bank (`2 * bank_depth` words).
    pub w_vbuf_addr: usize,
    /// `localparam` of the `act` opcode (the element-wise lanes tell ACT from EWOP).
    pub op_act: String,
    /// The vector memory's parts in address order: each writer's, or its
    /// words the vector load reads and the rest
    /// (`bbs_sim::overlap::regions::WriterRegions::banked`).
    pub parts: Vec<VmemPart>,
    /// The write groups, `0..groups`.
    pub group_list: Vec<usize>,
    /// Bits of a part number.
    pub w_part: usize,
}

/// One part of the overlapped machine's vector memory.
pub struct VmemPart {
    pub name: &'static str,
    /// Its writer's write group.
    pub group: usize,
    /// The vector load reads it.
    pub loads: bool,
    /// Its writer has another part (its banks check the write's row).
    pub shared: bool,
    /// Read ports of each bank: the runs, and the loads if `loads`.
    pub nr: usize,
    /// Its first global bank row (its first element over the banks).
    pub base_row: usize,
    /// Rows of each of its banks.
    pub depth: usize,
    /// Bits of a row within the part.
    pub w_row: usize,
}

/// One set of element-wise lanes of the overlapped machine: its unit
/// (issue list), its run read ports and its write group.
pub struct LaneUnit {
    pub name: &'static str,
    pub unit: usize,
    pub run_a: usize,
    pub run_b: Option<usize>,
    pub group: usize,
}

impl OverlapParams {
    /// The element-wise lanes: the EWOP's, and the ACT's with `act_unit`.
    pub fn lane_units(&self) -> Vec<LaneUnit> {
        let mut v = vec![LaneUnit {
            name: "ew",
            unit: 4,
            run_a: 0,
            run_b: Some(1),
            group: 2,
        }];
        if self.act_unit {
            v.push(LaneUnit {
                name: "act",
                unit: 5,
                run_a: 3,
                run_b: None,
                group: 3,
            });
        }
        v
    }

    /// `0..units`.
    pub fn unit_list(&self) -> Vec<usize> {
        (0..self.units).collect()
    }

    /// `(unit, issue list file)` of every unit, in the RTL's order.
    pub fn list_files(&self) -> Vec<(usize, &'static str)> {
        bbs_sim::overlap::tables::IssueUnit::ALL[..self.units]
            .iter()
            .enumerate()
            .map(|(u, unit)| (u, unit.file()))
            .collect()
    }

    pub fn new(cfg: &Config) -> OverlapParams {
        use bbs_sim::overlap::tables as rtl;
        let o = &cfg.overlap;
        let w_instr = rtl::instr_width(cfg);
        let list_depth = rtl::list_depth(cfg);
        let vb = bbs_sim::arch::VectorMemory::new(cfg).banks;
        let interleaved = o.units && o.interleaved;
        let runs = 3 + (o.units && o.act_unit) as usize + interleaved as usize;
        let load_width = o.load_width.max(1);
        let vbuf = if o.units { o.vector_buffers } else { 1 };
        let sub_depth = cfg.bank_depth().div_ceil(load_width);
        let parts: Vec<VmemPart> = if o.units {
            let banked = bbs_sim::overlap::regions::WriterRegions::new(cfg)
                .map(|w| w.banked())
                .unwrap_or_default();
            banked
                .iter()
                .map(|b| {
                    let (w, r) = (b.writer, b.region);
                    let depth = r.len.div_ceil(vb);
                    // The interleaved vector load reads through a run port:
                    // no part has load ports.
                    let loads = b.loads && !interleaved;
                    VmemPart {
                        name: w.describe(),
                        group: w.group(),
                        loads,
                        shared: banked.iter().filter(|o| o.writer == w).count() > 1,
                        nr: runs + if loads { cfg.banks } else { 0 },
                        base_row: r.base / vb,
                        depth,
                        w_row: (clog2(depth) as usize).max(1),
                    }
                })
                .collect()
        } else {
            vec![]
        };
        OverlapParams {
            on: o.units,
            vbuf,
            interleaved,
            load_width,
            lw_log2: load_width.trailing_zeros() as usize,
            load_run: if interleaved {
                cfg.banks * load_width
            } else {
                cfg.banks
            },
            run_vl: runs - 1,
            sub_depth,
            w_sub_addr: clog2(vbuf * sub_depth) as usize,
            act_unit: o.units && o.act_unit,
            units: rtl::issue_units(cfg).len(),
            runs,
            groups: 3 + (o.units && o.act_unit) as usize,
            group_list: (0..3 + (o.units && o.act_unit) as usize).collect(),
            max_waits: bbs_sim::overlap::MAX_WAITS,
            w_frame: rtl::FRAME_WIDTH,
            w_instr,
            w_stamp: rtl::STAMP_WIDTH,
            w_after: rtl::AFTER_WIDTH,
            w_wait: rtl::wait_entry_width(cfg),
            op_act: format!(
                "localparam [{}:0] OpAct = {}'d{};",
                Widths::new(cfg).op - 1,
                Widths::new(cfg).op,
                Opcode::Act.code()
            ),
            w_tab_addr: (clog2(list_depth) as usize).max(w_instr),
            w_tab_data: (bbs_sim::overlap::MAX_WAITS * rtl::wait_entry_width(cfg)).max(16),
            w_vbuf_addr: clog2(2 * cfg.bank_depth()) as usize,
            list_depth,
            w_list: clog2(list_depth) as usize,
            w_part: (clog2(parts.len()) as usize).max(1),
            parts,
        }
    }
}

/// `localparam [W-1:0] NAME = W'dV;` with the name padded to `pad`.
fn localparam(width: usize, name: &str, pad: usize, value: u64) -> String {
    format!(
        "localparam [{}:0] {name:<pad$} = {width}'d{value};",
        width - 1
    )
}

/// Lines as one block inside a module: joined by a newline and two spaces.
fn block(lines: impl Iterator<Item = String>) -> String {
    lines.collect::<Vec<_>>().join("\n  ")
}

/// `W'dV`.
fn literal(width: usize, value: u64) -> String {
    format!("{width}'d{value}")
}

impl RtlParams {
    pub fn new(cfg: &Config, module_doc: &str) -> RtlParams {
        let w = Widths::new(cfg);
        let act = act_rom(cfg, &w);
        let frac = cfg.frac_bits as u64;
        let layout = Layout::new(cfg);
        let ops = |list: &[Opcode]| {
            block(
                list.iter()
                    .map(|op| localparam(w.op, op.rtl_name(), 7, op.code())),
            )
        };
        let unit = encoding::ewop_func;
        let vm = VectorMemory::new(cfg);
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
            pes: cfg.pes,
            pe_list: (0..cfg.pes).collect(),
            banks: cfg.banks,
            frac_bits: cfg.frac_bits,
            bank_depth: cfg.bank_depth(),
            mat_depth: cfg.matrix_depth(),
            mult_stages: cfg.pipeline.mult_stages,
            adder_stages: cfg.pipeline.adder_stages,
            lanes: cfg.ewop.lanes,
            ew_latency: cfg.ewop.latency,
            beat_el: cfg.beat_elements(),
            imem_depth: cfg.memory.instruction_words,
            link_latency: cfg.host.link_latency,
            vbank_list: (0..vm.banks).collect(),
            acc_stage: timing::accumulate_stage(cfg),
            drain_cycles: timing::drain(cfg),
            op_range: layout.field("op").range(),
            fields: layout.fields,
            seq_states: block(
                SeqState::ALL
                    .iter()
                    .map(|s| localparam(w.seq_state, s.rtl_name(), 9, *s as u64)),
            ),
            ctrl_states: block(
                CtrlState::ALL
                    .iter()
                    .map(|s| localparam(w.ctrl_state, s.rtl_name(), 9, *s as u64)),
            ),
            seq_ops: ops(&[Opcode::Load, Opcode::Store, Opcode::Spmv]),
            top_ops: ops(&[Opcode::Load, Opcode::Spmv, Opcode::Ewop, Opcode::Act]),
            host_regs: block(
                HostReg::ALL
                    .iter()
                    .chain(cfg.overlap.units.then_some(&HostReg::Frames))
                    .map(|r| localparam(w.reg_addr, r.rtl_name(), 10, r.addr())),
            ),
            reg_ctrl: literal(w.reg_addr, HostReg::Ctrl.addr()),
            reg_ninstr: literal(w.reg_addr, HostReg::Ninstr.addr()),
            reg_cycles: literal(w.reg_addr, HostReg::Cycles.addr()),
            reg_frames: literal(w.reg_addr, HostReg::Frames.addr()),
            unit_add: unit(EwOp::Add),
            unit_sub: unit(EwOp::Sub),
            unit_mul: unit(EwOp::Mul),
            unit_copy: unit(EwOp::Copy),
            unit_sigmoid: UNIT_OP_ACT + encoding::act_func(ActFn::Sigmoid),
            unit_tanh: UNIT_OP_ACT + encoding::act_func(ActFn::Tanh),
            unit_relu: UNIT_OP_ACT + encoding::act_func(ActFn::Relu),
            act_op_hi: format!("{}'b{:b}", w.unit_op - w.func, UNIT_OP_ACT >> w.func),
            ew_op_pad: format!("{}'b0", w.unit_op - w.func),
            round_half: half_literal(w.acc as u64 + 1, frac),
            tree_lines: adder_tree_lines(cfg.banks, w.prod as u32),
            act_x_min: act.x_min,
            act_x_max: act.x_max,
            act_segments: act::SEGMENTS,
            act_range: act::RANGE,
            act_lines: act.lines,
            act_half: half_literal((w.act_slope + w.act_step_log2 + 2) as u64, frac),
            mul_half: half_literal(2 * w.value as u64 + 1, frac),
            ov: OverlapParams::new(cfg),
            w,
            vm,
        }
    }
}

/// `2^(frac-1)` as a `width`-bit literal, `0` when `frac` is 0.
impl RtlParams {
    /// The part-select of instruction field `name`, e.g. `[12:5]`.
    pub fn f(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.range())
            .unwrap_or_else(|| panic!("no instruction field {name}"))
    }
}

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
    lines: Vec<String>,
}

/// The ACT unit's ROM: `{func, segment}` -> `{slope, base}` for sigmoid
/// and tanh (their `act` func codes), the same integers as
/// `bbs_sim::act::ActTable`.
fn act_rom(cfg: &Config, wd: &Widths) -> ActRom {
    let fmt = cfg.format();
    let tables = [
        ActTable::new(ActFn::Sigmoid, fmt),
        ActTable::new(ActFn::Tanh, fmt),
    ];
    let (slope_w, w, seg_w) = (wd.act_slope, wd.value, wd.act_seg);
    let mut lines = Vec::new();
    for t in &tables {
        let f = encoding::act_func(t.func) as usize;
        for s in 0..act::SEGMENTS {
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
