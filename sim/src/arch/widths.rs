//! Every width of the generated RTL, derived once from the configuration.
//! The templates print them (through `bbs-hdlgen`'s `RtlParams`), the trace
//! declares its signals with them, the resource estimate counts flip-flops
//! and memory bits with them, and the program encoder lays out the
//! instruction word with them ([`super::encoding::Layout`]).

use super::encoding::{Layout, Opcode, FUNC_WIDTH, UNIT_OP_WIDTH};
use super::fsm::{CtrlState, SeqState};
use super::host::HostReg;
use super::placement::VectorMemory;
use super::timing;
use crate::act::{self, ActFn, ActTable};
use crate::arith::{ceil_log2, clog2};
use crate::config::Config;

/// Bits of the sequencer's `wait_q`, which counts the EWOP/ACT pipeline
/// latency (`ewop.latency` is at most 16).
pub const WAIT_WIDTH: usize = 5;

/// Widths in bits (and the host link's bytes), named as the RTL's signals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widths {
    /// A value, Q(W.F): `value_width`.
    pub value: usize,
    /// A product of two values: `2W`.
    pub prod: usize,
    /// The adder tree's sum: `2W + ceil(log2 K)`.
    pub tree: usize,
    /// The accumulator: `acc_width`.
    pub acc: usize,
    /// A bank-internal index: `clog2(bank_depth)`.
    pub index: usize,
    /// A matrix-memory word: K values and K indices.
    pub mat_word: usize,
    /// A matrix-memory address: `clog2(matrix_depth)`.
    pub mat_addr: usize,
    /// A row count (`rows` field): `clog2(max_rows + 1)`.
    pub rows: usize,
    /// A PE's local row: `clog2(ceil(max_rows / pes))`.
    pub local_row: usize,
    /// The controller's row counter: room for `rows` and `row_base + pes`, plus one bit.
    pub row_base: usize,
    /// A slot count (`slots` field): `clog2(max_slots + 1)`.
    pub slots: usize,
    /// A bank size (`bank` field, the vector-load length): `index + 1`.
    pub vec_words: usize,
    /// A PE number: `clog2(pes)`.
    pub pe_sel: usize,
    /// The controller's drain counter: `clog2(drain cycles)`.
    pub drain: usize,
    /// A vector-memory address: `clog2(memory.vector_words)`.
    pub vaddr: usize,
    /// A vector length (`len` field): `clog2(memory.vector_words + 1)`.
    pub vlen: usize,
    /// The sequencer's element offset: a length plus one beat or one lane group.
    pub off: usize,
    /// An instruction-buffer address: `clog2(memory.instruction_words)`.
    pub imem_addr: usize,
    /// The program counter, `0..=instruction_words`.
    pub pc: usize,
    /// The sequencer's latency counter ([`WAIT_WIDTH`]).
    pub wait: usize,
    /// The instruction word ([`Layout`]).
    pub instr: usize,
    /// The opcode and func fields, and the EWOP/ACT unit's operation.
    pub op: usize,
    pub func: usize,
    pub unit_op: usize,
    /// A host register address.
    pub reg_addr: usize,
    /// `state_q` of the sequencer and of the SpMxV controller.
    pub seq_state: usize,
    pub ctrl_state: usize,
    /// Host link: bytes per element, bytes and bits per AXI4-Stream beat.
    pub elem_bytes: usize,
    pub beat_bytes: usize,
    pub beat: usize,
    /// Vector-memory bank select and bank row address.
    pub vbank_sel: usize,
    pub vbank_row: usize,
    /// Width in which vector-memory addresses are summed before truncation.
    pub addr_sum: usize,
    /// ACT table: slope bits, log2 of the segment width, segment index bits.
    pub act_slope: usize,
    pub act_step_log2: usize,
    pub act_seg: usize,
    /// ACT datapath: slope * offset product, its rounded shift, the sum with the base.
    pub act_prod: usize,
    pub act_r: usize,
    pub act_y: usize,
}

impl Widths {
    pub fn new(cfg: &Config) -> Widths {
        let words = cfg.memory.vector_words;
        let rows_per_pe = cfg.rows_per_pe();
        let value = cfg.value_width as usize;
        let frac = cfg.frac_bits as usize;
        let prod = 2 * value;
        let index = cfg.index_width() as usize;
        let rows = clog2(cfg.max_rows + 1) as usize;
        let local_row = clog2(rows_per_pe) as usize;
        let vaddr = clog2(words) as usize;
        let off = clog2(words + cfg.ewop.lanes.max(cfg.beat_elements()) + 1) as usize;
        let vec_words = index + 1;
        let elem_bytes = cfg.value_width.div_ceil(8) as usize;
        let beat_bytes = cfg.beat_elements() * elem_bytes;
        let vmem = VectorMemory::new(cfg);
        let fmt = cfg.format();
        let act_slope = act::slope_width(fmt) as usize;
        let act_step_log2 = ActTable::new(ActFn::Sigmoid, fmt).step_log2 as usize;
        let mut w = Widths {
            value,
            prod,
            tree: prod + ceil_log2(cfg.banks) as usize,
            acc: cfg.acc_width as usize,
            index,
            mat_word: cfg.matrix_word_width() as usize,
            mat_addr: clog2(cfg.matrix_depth()) as usize,
            rows,
            local_row,
            row_base: (clog2(rows_per_pe * cfg.pes + 1) as usize).max(rows + 1),
            slots: clog2(cfg.max_slots + 1) as usize,
            vec_words,
            pe_sel: clog2(cfg.pes) as usize,
            drain: clog2(timing::drain(cfg) as usize) as usize,
            vaddr,
            vlen: clog2(words + 1) as usize,
            off,
            imem_addr: clog2(cfg.memory.instruction_words) as usize,
            pc: clog2(cfg.memory.instruction_words + 1) as usize,
            wait: WAIT_WIDTH,
            instr: 0,
            op: Opcode::WIDTH,
            func: FUNC_WIDTH,
            unit_op: UNIT_OP_WIDTH,
            reg_addr: HostReg::ADDR_WIDTH,
            seq_state: SeqState::WIDTH,
            ctrl_state: CtrlState::WIDTH,
            elem_bytes,
            beat_bytes,
            beat: 8 * beat_bytes,
            vbank_sel: vmem.banks.trailing_zeros() as usize,
            vbank_row: clog2(vmem.bank_depth) as usize,
            addr_sum: {
                let col = vec_words + clog2(cfg.banks + 1) as usize;
                let row = local_row + clog2(cfg.pes + 1) as usize;
                vaddr.max(off).max(col).max(row) + 2
            },
            act_slope,
            act_step_log2,
            act_seg: act::SEGMENTS.trailing_zeros() as usize,
            act_prod: act_slope + act_step_log2 + 1,
            act_r: act_slope + act_step_log2 + 2 - frac,
            act_y: value.max(act_slope + act_step_log2 + 2 - frac) + 1,
        };
        w.instr = Layout::from_widths(&w).width;
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_widths() {
        let w = Widths::new(&Config::default());
        assert_eq!((w.value, w.prod, w.tree, w.acc), (16, 32, 35, 40));
        assert_eq!((w.index, w.vec_words, w.mat_addr), (6, 7, 11));
        assert_eq!((w.rows, w.local_row, w.row_base, w.slots), (11, 7, 12, 5));
        assert_eq!((w.vaddr, w.vlen, w.pc, w.imem_addr), (14, 15, 9, 8));
        assert_eq!(w.drain, 3, "6 drain cycles count in 3 bits");
        assert_eq!(w.act_seg, 7, "128 segments");
        assert_eq!(w.beat, 128, "8 Q16 elements in 16 bytes");
    }
}
