//! FPGA resource estimate of a configuration: DSP blocks, block RAMs,
//! distributed RAM, flip-flops and LUTs of the generated machine
//! (`templates/bbs_*.v`): the PE array, its controller, the sequencer and its
//! instruction buffer, the host register block, the vector memory, the
//! EWOP/ACT lanes and the vector-memory port logic in the top.
//!
//! It is a formula, not a synthesis: every count below is a function of the
//! configuration. The structure (which memory goes where, which register
//! exists, which multiplier is a DSP) follows the RTL and the mapping rules of
//! Yosys 0.23's `synth_xilinx` and `synth_intel_alm` (the flows `bbs synth`
//! runs); the LUT coefficients of the vector memory, the EWOP lanes and the
//! control logic were measured with those flows on small designs
//! (`docs/synthesis.md` has the measurements and the remaining error; the
//! machines are `hw/configs/tiny.toml` and `hw/synth/*.toml`).
//!
//! Device facts are "as commonly cited" from the vendors' device overviews
//! and user guides (Intel Arria 10 Core Fabric and General Purpose I/O
//! Handbook / Native Fixed Point DSP user guide; Xilinx UltraScale
//! Architecture Memory Resources UG573 and DSP Slice UG579); check them before
//! relying on a number.
//!
//! # Memories
//!
//! | memory | RTL | instances | depth | width | read ports | write ports |
//! |---|---|---|---|---|---|---|
//! | `matrix` | `bbs_pe.v` `u_mat_mem` | P | `cfg.matrix_depth()` | `cfg.matrix_word_width()` | 1 registered | 1 |
//! | `vector_bank` | `bbs_pe.v` `u_vec_bank` | P * K | `cfg.bank_depth()` (times `overlap.vector_buffers`) | W | 1 registered | 1 |
//! | `instruction` | `bbs_seq.v` `imem_q` | 1 | `memory.instruction_words` | instruction bits | 1 combinational | 1 |
//! | `vector` | `bbs_vbank.v` (in `bbs_vmem.v`) | N banks | `ceil(memory.vector_words / N)` | W | K + 2 combinational | 1 |
//!
//! The vector memory's ports ([`crate::arch::VectorMemory`]): A = max(K, lanes,
//! beat elements) (SpMxV vector load, EWOP a, ACT, store), B = lanes (EWOP b),
//! write = max(P, lanes, beat elements) (PE results, EWOP results, loads);
//! N = the write ports rounded up to a power of two: element `e` is in bank `e % N`, so every write
//! burst touches a bank once and each bank has one write port. The bank
//! crossbar (each read port picks a bank, each bank picks a write port) is
//! in the `vector_ports` block.
//! The instruction word's width is [`crate::arch::Widths::instr`]
//! ([`crate::arch::encoding::Layout`]); every other width is
//! [`crate::arch::Widths`]'s.
//!
//! Each memory goes to the first of these that can hold it:
//!
//! Every memory of the RTL has one write port (the vector memory is banked
//! for that: as one array with a write port per unit lane it was a register
//! file, 262144 flip-flops and over 3 million LUTs on the default
//! configuration; banked it is 49152 LUTRAM LUTs, docs/synthesis.md).
//!
//! 1. **Distributed RAM**: one write port and a combinational read (the
//!    instruction buffer, the vector memory's banks), or a registered read (the vector banks) of depth <=
//!    [`LUTRAM_MAX_DEPTH`] (128) on Xilinx, or on Intel filling less than
//!    [`M20K_MIN_EFFICIENCY_PCT`] (5%) of its M20K blocks (Yosys's
//!    `bram_m20k.txt` rule: a 64 x 12 bank goes to MLAB, 64 x 16 and 128 x 8
//!    to M20K).
//!    * Xilinx: RAM32M (32 x 6 simple dual port, or 32 x 2 quad port) for
//!      depth <= 32, else RAM64M (64 x 3, or 64 x 1 quad port), 4 LUTs each,
//!      `ceil(depth / 32 or 64)` deep. Yosys copies the memory per read port
//!      (simple dual port) or per four read ports (quad port), whichever
//!      takes fewer primitives (ties: simple dual port): 2048 x 8 with 3 or 4
//!      read ports takes 256 RAM64M (quad port), with 2 read ports 192
//!      (copies).
//!    * Intel: MLAB cells of 32 x 1 (what `synth_intel_alm` instantiates and
//!      `bbs synth` counts as LUTRAM LUTs), `ceil(depth / 32) * width` per read port.
//!    * Deeper than one primitive, each read port and bit needs a
//!      `ceil(depth / 32 or 64):1` mux: [`mux_luts`].
//!    * A registered read (the vector banks) keeps its output register in the
//!      fabric: `width` flip-flops per instance.
//! 2. **Block RAM**: everything else (the matrix memories, deeper vector
//!    banks), as below.
//!
//! # Block-RAM modes
//!
//! * [`Device::IntelM20k`] (Intel Arria 10 / Cyclone 10 GX / Stratix 10 M20K,
//!   20 kbit): 512x40, 1Kx20, 2Kx10, 4Kx5, 8Kx2, 16Kx1.
//! * [`Device::XilinxRamb36`] (Xilinx 7-series / UltraScale / UltraScale+
//!   RAMB36, 36 kbit, splittable into two independent RAMB18): RAMB36 512x72,
//!   1Kx36, 2Kx18, 4Kx9, 8Kx4, 16Kx2, 32Kx1; RAMB18 512x36, 1Kx18, 2Kx9,
//!   4Kx4, 8Kx2, 16Kx1. A RAMB18 counts 0.5 RAMB36.
//!
//! One instance of a memory of `depth x width` in a mode `md x mw` takes
//! `ceil(width / mw) * ceil(depth / md)` primitives. Per memory the mode with
//! the fewest blocks (RAMB18 halves on Xilinx) wins; ties go to the deepest
//! mode (fewest depth-cascaded blocks, so no read mux), then to the fewest
//! primitives, then to the first mode listed above.
//!
//! Xilinx totals are RAMB36 equivalents, rounded up per memory (all its
//! instances together, since two RAMB18 halves of one memory share a RAMB36):
//! `blocks = ceil(instances * halves_each / 2)`.
//!
//! Blocks cascaded in depth need a read mux per bit: on Intel
//! `width * mux_luts(deep)` LUTs per instance (Yosys 0.23: 275 LUTs for tiny's
//! 16-deep, 30-bit matrix memory; the estimate 330); on Xilinx two RAMB36 cascade
//! inside the blocks, so only deeper cascades cost LUTs.
//!
//! Memories of at most 1 kbit per instance that still go to block RAM would
//! often go to MLAB (Intel, 640 bits each) in a real flow. They are counted as
//! block RAM (the conservative case), flagged `small`, and their blocks are
//! summed in [`ResourceEstimate::small_blocks`].
//!
//! # DSPs
//!
//! A multiplier goes to DSPs as Yosys 0.23's `mul2dsp` decides: on Xilinx
//! (xc7) if both operands have at least 2 bits and the product at least 9,
//! on Intel (cyclone10gx) if both operands have at least 4 bits; else to LUTs.
//!
//! * PE array: one multiplier per bank per PE (P * K), `W x W` signed.
//! * EWOP/ACT: per lane a `W x W` multiply (`mul`) and the ACT unit's
//!   `slope x offset` multiply (`act_slope_w x (act_step_log2 + 1)` bits).
//!   `synth_xilinx` maps multipliers to DSP48s before its `share` pass, so a
//!   lane takes both (the ACT one only if Yosys's `mul2dsp` takes it: both
//!   operands >= 2 bits and the product >= 9 bits). `synth_intel_alm` runs
//!   `share` first, and the two multiplies (never in the same instruction)
//!   become one `max(W, act_slope_w)`-bit multiplier per lane.
//! * Vector-port addresses (top): A port `g` multiplies the bank size by
//!   the constant `g`, and with P not a power of two each PE's write port
//!   multiplies its row by P. Yosys makes shifts of the powers of two and
//!   gives the other constant products to `mul2dsp` like any multiply: `3 *
//!   bank_size` with a 7-bit bank-size field takes a DSP48 (a vendor tool
//!   would use adders). None on tiny and mini (A ports 0 and 1).
//!
//! Per multiplier in DSPs:
//!
//! * Intel Arria 10 variable-precision DSP block: two 18x19 multipliers, or
//!   one 27x27: width <= 18 packs 2 multipliers per block, <= 27 takes 1
//!   block, wider (up to 32) takes 2 blocks (the two-block 36x36 mode). The
//!   PE and EWOP multipliers pack together.
//! * Xilinx DSP48E2 (27x18 multiplier): `ceil(a / 27) * ceil(b / 18)` slices
//!   for an `a x b` multiplier (`a >= b`): 1 for W <= 18, 2 for W <= 27, 4
//!   for W <= 32.
//!
//! # Registers (flip-flop bits, from the RTL)
//!
//! * PE array, per PE: the tag pipeline `(local_row_w + 4) * S` with `S = 2 +
//!   mult_stages + adder_stages`, the weight register `K * W`, the multiplier
//!   stages `K * 2W * mult_stages`, the adder-tree stages `(2W + ceil(log2
//!   K)) * adder_stages`, the accumulator `A`, the write enable 1 and the
//!   write row `local_row_w`. On Intel (`synth_intel_alm`) all of them are
//!   fabric flip-flops. On [`Device::XilinxRamb36`] (`synth_xilinx`, and
//!   Vivado likewise) the DSP48 takes the weight register as its AREG and the
//!   first [`DSP_ABSORBED_MULT_STAGES`] (2) multiplier stages as its MREG and
//!   PREG: a PE counts `K * 2W * (mult_stages - min(mult_stages, 2))`
//!   multiplier flip-flops and no weight register there. And Yosys's
//!   `opt_merge` keeps one copy of the registers that hold the same value in
//!   every PE, the tag pipeline but its `row_ok` bit and the write row: the
//!   array counts `(local_row_w + 3) * S + local_row_w` once and `S` per PE.
//!   (Measured on tiny, mini, mini16 and quad12: within 1% of Yosys, Intel
//!   tiny 4%.)
//! * Vector ports (top): the SpMxV load register `vec_wdata_q`, `K * W`.
//! * Controller (`bbs_ctrl.v`): state 3, two vector addresses `2 * index_w`,
//!   vector write enable 1, `mat_addr_w`, `slots_w`, `local_row_w`,
//!   `row_base_w`, `drain_w`.
//! * Sequencer (`bbs_seq.v`): state 4, `pc_w`, the instruction register
//!   (instruction bits), the element offset `off_w`, and the 5-bit wait
//!   counter when `ewop.latency > 0` (otherwise it never leaves 0 and Yosys
//!   removes it).
//! * Host registers (`bbs_regs.v`): NINSTR `pc_w`, CYCLES 32, the read data 32.
//! * EWOP/ACT (`bbs_ewop.v`): `ewop.latency` stages of `lanes` write enables,
//!   the write address `vaddr_w` and `lanes * W` results.
//! * Memories: the output register of every distributed-RAM vector bank,
//!   `W`. Block-RAM
//!   output registers live inside the RAMs and are not counted.
//!
//! # LUTs (LUT6 / half-ALM equivalents)
//!
//! Logic outside the memories, calibrated on `synth_xilinx` (Yosys 0.23
//! within about 10% per block on the measured designs); the same formulas are
//! used for Intel, whose Yosys flow spends more (one `ALUT_ARITH` per adder
//! bit, no MUXF7, no LUT sharing with the 2-input logic): docs/synthesis.md.
//!
//! * PE array, per PE: the adder tree, every pairwise adder at level `l`
//!   (0-based) `2W + l + 1` bits (the exact tree of `bbs_adder_tree.v`); the
//!   accumulator `A`; rounding `A + 1` and saturation `W`; the row-valid
//!   compare in the top `row_base_w`.
//! * Controller: 3/2 per controller flip-flop bit (its counters' adders and
//!   compares and the next-state muxes; Yosys: 90 LUTs for 64 bits, 57 for 40).
//! * Sequencer: `4 * off_w + 2 * pc_w + 20` (the offset adders and compares,
//!   the program counter, the state machine).
//! * Host registers: the 32-bit cycle counter and the read mux, `34 + pc_w`.
//! * EWOP/ACT, per lane: `7 * W` (add and subtract with saturation, the
//!   clamp, offset and rounding of the ACT unit, the `mul` saturation and the
//!   5:1 result select; Yosys: 54 at W = 8, 119 at W = 16) and the ACT table
//!   `2 * (act_slope_w + W)` (a 256-entry ROM of slope and base, as logic:
//!   Yosys 25 at W = 8, 76 at W = 16).
//! * Vector ports (top): per A port `6 * vaddr_w` (three address adders, the
//!   3:1 address select, the column compare), per B port `vaddr_w`, per write
//!   port `4 * vaddr_w + W` (three address sources and the address, data and
//!   enable select).
//! * Memories: the register-file and distributed-RAM read muxes and write
//!   logic above.
//!
//! # Logic (the budget's figure)
//!
//! [`ResourceEstimate::logic`] puts the LUTs in the device's own logic unit,
//! the one its budget counts ([`logic_units`]):
//!
//! * Xilinx: CLB LUTs, `luts + lutram_luts`. A SLICEM LUT used as
//!   distributed RAM is one of the device's CLB LUTs (the XCKU060's 331,680
//!   count both).
//! * Intel: ALMs, `luts + ceil(lutram_luts / 2)`. An Arria 10 ALM holds one
//!   6-input LUT, or two smaller functions that fit its 8 inputs together; which
//!   pairs pack is the fitter's choice, so the estimate takes the
//!   conservative one LUT per ALM (it overstates arithmetic, two adder bits
//!   per ALM, and small functions Quartus would pair). An MLAB is 10 ALMs
//!   holding 640 bits, 20 of the 32 x 1 cells counted in `lutram_luts`: two
//!   per ALM.
//!
//! It is an estimate of an estimate: the LUT formulas are calibrated on Yosys
//! (within 14% on Xilinx, docs/synthesis.md), not on Vivado or Quartus, and
//! the conversion to ALMs is a rule of thumb, not a fit.

mod overlap;

use crate::arch::{VectorMemory, Widths};
use crate::config::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// A device family's block-RAM and DSP primitives; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// Intel Arria 10 (also Cyclone 10 GX, Stratix 10): M20K, MLAB, 18x19 DSP blocks.
    IntelM20k,
    /// Xilinx 7-series / UltraScale / UltraScale+: RAMB36/RAMB18, RAM32M/RAM64M, DSP48E2.
    XilinxRamb36,
}

impl Device {
    pub fn label(&self) -> &'static str {
        match self {
            Device::IntelM20k => "Intel M20K (Arria 10)",
            Device::XilinxRamb36 => "Xilinx RAMB36 (UltraScale)",
        }
    }

    /// The unit of [`ResourceEstimate::logic`] and [`Budget::logic`].
    pub fn logic_unit(&self) -> &'static str {
        match self {
            Device::IntelM20k => "ALMs",
            Device::XilinxRamb36 => "CLB LUTs",
        }
    }
}

/// One aspect ratio of a block-RAM primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BramMode {
    pub primitive: &'static str,
    pub depth: usize,
    pub width: u32,
    /// Cost of one primitive in the device's counting unit: M20K 1; on Xilinx
    /// RAMB18 halves, so RAMB36 2 and RAMB18 1.
    pub units: usize,
}

const fn mode(primitive: &'static str, depth: usize, width: u32, units: usize) -> BramMode {
    BramMode {
        primitive,
        depth,
        width,
        units,
    }
}

/// Intel M20K simple-dual-port modes.
pub const M20K_MODES: [BramMode; 6] = [
    mode("M20K", 512, 40, 1),
    mode("M20K", 1024, 20, 1),
    mode("M20K", 2048, 10, 1),
    mode("M20K", 4096, 5, 1),
    mode("M20K", 8192, 2, 1),
    mode("M20K", 16384, 1, 1),
];

/// Xilinx RAMB36 and RAMB18 simple-dual-port modes, in RAMB18 halves.
pub const XILINX_MODES: [BramMode; 13] = [
    mode("RAMB36", 512, 72, 2),
    mode("RAMB36", 1024, 36, 2),
    mode("RAMB36", 2048, 18, 2),
    mode("RAMB36", 4096, 9, 2),
    mode("RAMB36", 8192, 4, 2),
    mode("RAMB36", 16384, 2, 2),
    mode("RAMB36", 32768, 1, 2),
    mode("RAMB18", 512, 36, 1),
    mode("RAMB18", 1024, 18, 1),
    mode("RAMB18", 2048, 9, 1),
    mode("RAMB18", 4096, 4, 1),
    mode("RAMB18", 8192, 2, 1),
    mode("RAMB18", 16384, 1, 1),
];

/// Instances of at most this many bits are flagged `small`.
pub const SMALL_MEMORY_BITS: u64 = 1024;

/// On Xilinx, memories with a registered read of at most this depth go to
/// distributed RAM (RAM32M/RAM64M).
pub const LUTRAM_MAX_DEPTH: usize = 128;

/// On Intel, a memory with a registered read goes to M20K only if it fills
/// at least this percentage of its blocks' 20 kbit (Yosys 0.23's
/// `bram_m20k.txt` rule `min efficiency 5`); else to MLAB.
pub const M20K_MIN_EFFICIENCY_PCT: u64 = 5;

/// Bits of one M20K block.
pub const M20K_BITS: u64 = 20 * 1024;

/// LUTs of one RAM64M or RAM32M (4 LUT6 in a SLICEM).
pub const RAM64M_LUTS: usize = 4;

/// On Xilinx, this many multiplier pipeline stages fit a DSP48's M and P
/// registers and are not fabric flip-flops.
pub const DSP_ABSORBED_MULT_STAGES: usize = 2;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub name: String,
    pub instances: usize,
    pub depth: usize,
    pub width: u32,
    /// Read ports per instance (each a copy of the data in distributed RAM).
    pub read_ports: usize,
    /// Write ports per instance (1 for every memory of the RTL).
    pub write_ports: usize,
    /// The chosen mode: a block-RAM mode (`"M20K 2Kx10"`, `"RAMB18 1Kx18"`),
    /// or distributed RAM (`"RAM64M 64x3"`, `"RAM64M 64x1 quad port"`,
    /// `"RAM32M 32x6"`, `"RAM32M 32x2 quad port"`, `"MLAB 32x1"`).
    pub mode: String,
    /// Primitives of `mode` per instance (every read-port copy).
    pub primitives_each: usize,
    /// Device blocks per instance: M20K, or RAMB36 equivalents rounded up;
    /// 0 for distributed RAM.
    pub blocks_each: usize,
    /// Device blocks of all instances: `instances * blocks_each` on Intel;
    /// on Xilinx `ceil(instances * halves_each / 2)` (halves pair up); 0 for
    /// distributed RAM.
    pub blocks: usize,
    /// LUTs of all instances spent as distributed RAM: 4 per RAM32M/RAM64M,
    /// 1 per MLAB 32x1 cell (as `bbs synth` counts them); else 0.
    pub lutram_luts: usize,
    /// Logic LUTs of all instances: read muxes (distributed RAM deeper than
    /// one primitive, cascaded block RAM).
    pub luts: usize,
    /// Fabric flip-flops of all instances: the output register of a
    /// registered-read distributed RAM.
    pub registers: usize,
    /// Stored bits of all instances: `instances * depth * width`.
    pub bits: u64,
    /// At most [`SMALL_MEMORY_BITS`] per instance: MLAB/LUTRAM material.
    pub small: bool,
}

/// The logic of one part of the design (memories apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockEstimate {
    /// `pe_array`, `controller`, `sequencer`, `host_registers`, `ewop`, `vector_ports`.
    pub name: &'static str,
    /// Logic LUTs.
    pub luts: usize,
    /// Fabric flip-flops.
    pub registers: usize,
    /// Hardware multipliers (each one or more DSP slices, or half a DSP block).
    pub multipliers: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceEstimate {
    pub device: Device,
    /// SpMxV multipliers, `P * K` (the EWOP lanes' are in `blocks`).
    pub multipliers: usize,
    /// DSP blocks (Intel) or slices (Xilinx) of the PE array and the EWOP lanes.
    pub dsp_blocks: usize,
    /// Sum of the memories' `blocks` (M20K, or RAMB36 equivalents).
    pub block_rams: usize,
    /// Sum of the memories' `lutram_luts` (RAM32M/RAM64M LUTs, MLAB cells).
    pub lutram_luts: usize,
    /// The part of `block_rams` spent on `small` memories.
    pub small_blocks: usize,
    pub memories: Vec<MemoryEstimate>,
    /// The logic around the memories, block by block.
    pub blocks: Vec<BlockEstimate>,
    /// Flip-flop bits of the blocks and the memories (on Xilinx without the
    /// multiplier stages absorbed into DSP slices).
    pub registers: usize,
    /// Logic LUTs of the blocks and the memories; distributed RAM is in `lutram_luts`.
    pub luts: usize,
    /// `luts` and `lutram_luts` in the device's logic unit, the one
    /// [`Budget::logic`] counts: ALMs on Intel, CLB LUTs on Xilinx
    /// ([`logic_units`]; an estimate, see the module documentation).
    pub logic: usize,
}

/// Logic LUTs and distributed-RAM LUTs in the device's logic unit: on Xilinx
/// CLB LUTs, `luts + lutram_luts`; on Intel ALMs, `luts + ceil(lutram_luts /
/// 2)` (one LUT per ALM, the conservative packing; two 32 x 1 MLAB cells per
/// ALM). See the module documentation.
pub fn logic_units(device: Device, luts: usize, lutram_luts: usize) -> usize {
    match device {
        Device::XilinxRamb36 => luts + lutram_luts,
        Device::IntelM20k => luts + lutram_luts.div_ceil(2),
    }
}

/// Blocks of one `depth x width` memory: (mode, primitives, units).
pub fn memory_blocks(device: Device, depth: usize, width: u32) -> (BramMode, usize, usize) {
    let modes: &[BramMode] = match device {
        Device::IntelM20k => &M20K_MODES,
        Device::XilinxRamb36 => &XILINX_MODES,
    };
    let cost = |m: &BramMode| {
        let deep = depth.div_ceil(m.depth).max(1);
        let prims = (width.div_ceil(m.width) as usize).max(1) * deep;
        (prims * m.units, deep, prims)
    };
    // min_by_key keeps the first of equal keys: the list order breaks the last ties.
    let best = modes
        .iter()
        .min_by_key(|m| cost(m))
        .copied()
        .unwrap_or(modes[0]);
    let (units, _, prims) = cost(&best);
    (best, prims, units)
}

fn mode_name(m: &BramMode) -> String {
    let depth = if m.depth >= 1024 {
        format!("{}K", m.depth / 1024)
    } else {
        m.depth.to_string()
    };
    format!("{} {depth}x{}", m.primitive, m.width)
}

/// LUTs of one bit of an `n:1` read mux as Yosys 0.23 maps it: Xilinx about
/// `0.45 n` (LUT6 4:1 muxes and MUXF7s; measured 1 for 2:1 and 4:1, 13 to 19
/// for 32:1), Intel about `0.65 n` (no MUXF7; measured 5.3 for 8:1, 48.5 for
/// 64:1); 0 for `n <= 1`, and 1 for a 2:1 mux on either (three inputs: one
/// LUT of any size).
pub fn mux_luts(device: Device, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    if n == 2 {
        return 1;
    }
    let (num, den) = match device {
        Device::XilinxRamb36 => (9, 20),
        Device::IntelM20k => (13, 20),
    };
    (num * n).div_ceil(den).max(1)
}

/// Read ports Yosys 0.23 keeps of a vector-memory bank's `nr`: its `share`
/// pass merges read ports whose uses exclude each other (e.g. an EWOP `b`
/// port and a port only a `store` uses). Measured on the banked memory
/// (`K + 2` read ports per bank): 4 become 3 (tiny, mini: one RAM64M copy on
/// Xilinx, three MLAB copies on Intel), 10 become 9 (default: three
/// quad-port copies, 51200 LUTRAM LUTs). Modelled as one merge from four
/// ports up: exact on tiny, mini and default, within 6% on mini16 and quad12.
fn shared_read_ports(nr: usize) -> usize {
    if nr >= 4 {
        nr - 1
    } else {
        nr
    }
}

/// How a memory is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// `rdata_q <= mem[raddr]` (`bbs_ram.v`): block RAM, or distributed RAM
    /// and an output register.
    Registered,
    /// `assign data = mem[addr]`: distributed RAM only.
    Combinational,
}

struct MemSpec {
    name: String,
    instances: usize,
    depth: usize,
    width: u32,
    read_ports: usize,
    read: Read,
}

fn memory(device: Device, m: &MemSpec) -> MemoryEstimate {
    let (n, depth, w) = (m.instances, m.depth, m.width as usize);
    let nr = m.read_ports.max(1);
    let bits_each = depth as u64 * w as u64;
    let mut est = MemoryEstimate {
        name: m.name.clone(),
        instances: n,
        depth,
        width: m.width,
        read_ports: nr,
        write_ports: 1,
        mode: String::new(),
        primitives_each: 0,
        blocks_each: 0,
        blocks: 0,
        lutram_luts: 0,
        luts: 0,
        registers: 0,
        bits: bits_each * n as u64,
        small: bits_each <= SMALL_MEMORY_BITS,
    };
    let distributed = match (device, m.read) {
        (_, Read::Combinational) => true,
        (Device::XilinxRamb36, Read::Registered) => depth <= LUTRAM_MAX_DEPTH,
        (Device::IntelM20k, Read::Registered) => {
            let (_, prims, _) = memory_blocks(device, depth, m.width);
            100 * bits_each < M20K_MIN_EFFICIENCY_PCT * prims as u64 * M20K_BITS
        }
    };
    if distributed {
        let (mode, prims, deep, lutram_each) = match device {
            Device::XilinxRamb36 => {
                // RAM32M: 32 x 6 simple dual port or 32 x 2 quad port;
                // RAM64M: 64 x 3 or 64 x 1 quad port (three read ports).
                let (prim, prim_depth, sdp_w, qp_w) = if depth <= 32 {
                    ("RAM32M", 32, 6, 2)
                } else {
                    ("RAM64M", 64, 3, 1)
                };
                let deep = depth.div_ceil(prim_depth).max(1);
                let nr = shared_read_ports(nr);
                let sdp = nr * deep * w.div_ceil(sdp_w).max(1);
                let qp = nr.div_ceil(3) * deep * w.div_ceil(qp_w).max(1);
                let (mode, prims) = if qp < sdp {
                    (format!("{prim} {prim_depth}x{qp_w} quad port"), qp)
                } else {
                    (format!("{prim} {prim_depth}x{sdp_w}"), sdp)
                };
                (mode, prims, deep, prims * RAM64M_LUTS)
            }
            Device::IntelM20k => {
                let deep = depth.div_ceil(32).max(1);
                // One copy per read port (after Yosys's `share` pass).
                let prims = shared_read_ports(nr) * deep * w.max(1);
                ("MLAB 32x1".to_string(), prims, deep, prims)
            }
        };
        est.mode = mode;
        est.primitives_each = prims;
        est.lutram_luts = n * lutram_each;
        est.luts = n * shared_read_ports(nr) * w * mux_luts(device, deep);
        if m.read == Read::Registered {
            est.registers = n * w;
        }
        return est;
    }
    let (bm, primitives_each, units) = memory_blocks(device, depth, m.width);
    let deep = depth.div_ceil(bm.depth).max(1);
    let (blocks_each, blocks, cascade) = match device {
        Device::IntelM20k => (units, units * n, deep),
        // Two RAMB36 cascade inside the blocks (CASCADEIN/OUT): no mux.
        Device::XilinxRamb36 => (
            units.div_ceil(2),
            (units * n).div_ceil(2),
            if deep <= 2 { 1 } else { deep },
        ),
    };
    est.mode = mode_name(&bm);
    est.primitives_each = primitives_each;
    est.blocks_each = blocks_each;
    est.blocks = blocks;
    est.luts = n * w * mux_luts(device, cascade);
    est
}

/// DSP blocks (Intel) or slices (Xilinx) for `multipliers` signed
/// `width x width` multipliers (0 for multipliers Yosys leaves in LUTs).
pub fn dsp_blocks(device: Device, multipliers: usize, width: u32) -> usize {
    match device {
        Device::IntelM20k => (multipliers * dsp_cost(device, width, width)).div_ceil(2),
        Device::XilinxRamb36 => multipliers * dsp_cost(device, width, width),
    }
}

/// One `a x b` multiplier in the device's DSP unit: Xilinx DSP48E2 slices
/// (27x18), Intel half DSP blocks (18x19, a whole 27x27 block, or the
/// two-block 36x36 mode). 0 when Yosys 0.23's `mul2dsp` leaves it in LUTs:
/// on Xilinx (xc7) an operand under 2 bits or a product under 9 bits, on
/// Intel (cyclone10gx) an operand under 4 bits.
fn dsp_cost(device: Device, a: u32, b: u32) -> usize {
    let (hi, lo) = (a.max(b), a.min(b));
    match device {
        Device::XilinxRamb36 => {
            if lo < 2 || hi + lo < 9 {
                0
            } else {
                (hi.div_ceil(27) as usize) * (lo.div_ceil(18) as usize)
            }
        }
        Device::IntelM20k => match hi {
            _ if lo < 4 => 0,
            0..=18 => 1,
            19..=27 => 2,
            _ => 4,
        },
    }
}

/// Bits of the unsigned constant `v`.
fn const_bits(v: usize) -> u32 {
    usize::BITS - v.leading_zeros()
}

/// Flip-flops of the SpMxV controller (`bbs_ctrl`): its state, the vector
/// load's read and write addresses and write enable, the matrix address, the
/// slot, local-row, row-base and drain counters.
fn controller_bits(wd: &Widths) -> usize {
    wd.ctrl_state
        + 2 * wd.index
        + 1
        + wd.mat_addr
        + wd.slots
        + wd.local_row
        + wd.row_base
        + wd.drain
}

/// The resources of `cfg` on `device`; an invalid configuration errors,
/// naming its field.
pub fn estimate(cfg: &Config, device: Device) -> Result<ResourceEstimate, ConfigError> {
    cfg.validate()?;
    let (p, k, w) = (cfg.pes, cfg.banks, cfg.value_width);
    let wd = Widths::new(cfg);
    let vm = VectorMemory::new(cfg);
    let mut memories = vec![
        memory(
            device,
            &MemSpec {
                name: "matrix".into(),
                instances: p,
                depth: cfg.matrix_depth(),
                width: cfg.matrix_word_width(),
                read_ports: 1,
                read: Read::Registered,
            },
        ),
        memory(
            device,
            &MemSpec {
                name: "vector_bank".into(),
                // `overlap.load_width` sub-banks per bank, each holding
                // every `load_width`-th position.
                instances: p * k * cfg.overlap.load_width,
                // `overlap.vector_buffers` copies, one more address bit.
                depth: (cfg.bank_depth() * cfg.overlap.vector_buffers)
                    .div_ceil(cfg.overlap.load_width),
                width: w,
                read_ports: 1,
                read: Read::Registered,
            },
        ),
        memory(
            device,
            &MemSpec {
                name: "instruction".into(),
                instances: 1,
                depth: cfg.memory.instruction_words,
                width: wd.instr as u32,
                // The overlapped machine decodes every unit's head at once.
                read_ports: if cfg.overlap.units {
                    crate::overlap::tables::issue_units(cfg).len()
                } else {
                    1
                },
                read: Read::Combinational,
            },
        ),
    ];
    let mut blocks = blocks(cfg, device, &wd, &vm);
    if cfg.overlap.units {
        // The issue stage replaces the SpMxV controller and the sequencer,
        // and the vector memory's parts have a crossbar of their own.
        let ov = overlap::Overlapped::new(cfg)?;
        memories.extend(ov.memories(device, &vm));
        blocks.retain(|b| !matches!(b.name, "controller" | "sequencer" | "vector_ports"));
        blocks.push(ov.issue_stage(device, &wd));
        blocks.push(ov.vector_ports(device, &wd, &vm));
    } else {
        memories.push(memory(
            device,
            &MemSpec {
                name: "vector".into(),
                // One bank per write port (bbs_vmem.v): each has one write
                // port, and a read port per run (a, b) and per SpMxV-load address.
                instances: vm.banks,
                depth: vm.bank_depth,
                width: w,
                read_ports: k + 2,
                read: Read::Combinational,
            },
        ));
    }
    let block_rams = memories.iter().map(|m| m.blocks).sum();
    let lutram_luts = memories.iter().map(|m| m.lutram_luts).sum();
    let small_blocks = memories.iter().filter(|m| m.small).map(|m| m.blocks).sum();
    let registers = blocks.iter().map(|b| b.registers).sum::<usize>()
        + memories.iter().map(|m| m.registers).sum::<usize>();
    let luts = blocks.iter().map(|b| b.luts).sum::<usize>()
        + memories.iter().map(|m| m.luts).sum::<usize>();
    Ok(ResourceEstimate {
        device,
        multipliers: p * k,
        dsp_blocks: dsps(cfg, device, &wd, &vm),
        block_rams,
        lutram_luts,
        small_blocks,
        memories,
        blocks,
        registers,
        luts,
        logic: logic_units(device, luts, lutram_luts),
    })
}

/// The DSP units (slices, or half blocks on Intel) of one EWOP/ACT lane:
/// on Xilinx the `W x W` multiply and the ACT unit's `slope x offset`
/// multiply apart, on Intel one multiplier shared by both (apart too with
/// `separate_act`: the overlapped machine's ACT lanes of their own,
/// `overlap.act_unit`). With a one-LSB segment (`act_step_log2` 0) the
/// offset is the constant 0 and there is no ACT multiply.
fn ewop_lane_dsp(device: Device, w: u32, wd: &Widths, separate_act: bool) -> (usize, usize) {
    let (slope, offset) = (wd.act_slope as u32, wd.act_step_log2 as u32 + 1);
    let act = wd.act_step_log2 > 0;
    if device == Device::XilinxRamb36 || separate_act {
        let mul = dsp_cost(device, w, w);
        let act = if act {
            dsp_cost(device, slope, offset)
        } else {
            0
        };
        (mul + act, usize::from(mul > 0) + usize::from(act > 0))
    } else {
        let cost = if act {
            dsp_cost(device, w.max(slope), w.max(offset))
        } else {
            dsp_cost(device, w, w)
        };
        (cost, usize::from(cost > 0))
    }
}

/// The DSP units and multipliers of the vector-memory address arithmetic in
/// the top: A port `g` computes `g * bank_size` (bank-size field bits times
/// the constant `g`) and, when P is not a power of two, write port `g < P`
/// computes `row * P` (`local_row_w` bits). Yosys turns products by powers
/// of two into shifts and gives the others to `mul2dsp` like any multiply
/// ([`dsp_cost`]): e.g. `3 * bank` takes a DSP48 once the bank-size field has
/// 7 bits. (A vendor tool would build these from adders.)
fn address_dsp(cfg: &Config, device: Device, wd: &Widths, vm: &VectorMemory) -> (usize, usize) {
    let mut units = 0;
    let mut count = 0;
    let mut add = |operand: usize, constant: usize| {
        if constant > 1 && !constant.is_power_of_two() {
            let c = dsp_cost(device, operand as u32, const_bits(constant));
            units += c;
            count += usize::from(c > 0);
        }
    };
    // The strided vector load's port g reads `g * bank_size` on; the
    // interleaved one reads a run (no per-port product).
    if !cfg.overlap.interleaved {
        for g in 0..vm.ports_a {
            add(wd.vec_words, g);
        }
    }
    for _ in 0..cfg.pes.min(vm.ports_w) {
        add(wd.local_row, cfg.pes);
    }
    (units, count)
}

fn dsps(cfg: &Config, device: Device, wd: &Widths, vm: &VectorMemory) -> usize {
    let w = cfg.value_width;
    // With `overlap.act_unit` the ACT lanes are a second bbs_ewop: the
    // opcode comes from the instruction word, so each keeps both
    // multiplies; Yosys drops the ACT lanes' `W x W` one (measured on the
    // overlapped mini: 10 DSP48s, 4 of them the PEs').
    let act_lanes = if cfg.overlap.act_unit && wd.act_step_log2 > 0 {
        cfg.ewop.lanes * dsp_cost(device, wd.act_slope as u32, wd.act_step_log2 as u32 + 1)
    } else {
        0
    };
    let units = cfg.pes * cfg.banks * dsp_cost(device, w, w)
        + cfg.ewop.lanes * ewop_lane_dsp(device, w, wd, cfg.overlap.act_unit).0
        + act_lanes
        + address_dsp(cfg, device, wd, vm).0;
    match device {
        Device::XilinxRamb36 => units,
        Device::IntelM20k => units.div_ceil(2),
    }
}

/// The logic blocks' LUTs, flip-flops and multipliers (module doc).
fn blocks(cfg: &Config, device: Device, wd: &Widths, vm: &VectorMemory) -> Vec<BlockEstimate> {
    let (p, k) = (cfg.pes, cfg.banks);
    let (w, a) = (cfg.value_width as usize, cfg.acc_width as usize);
    let (mult, adder) = (
        cfg.pipeline.mult_stages as usize,
        cfg.pipeline.adder_stages as usize,
    );
    let (lanes, latency) = (cfg.ewop.lanes, cfg.ewop.latency as usize);

    // PE array. On Xilinx the DSP48s take the weight register (AREG) and
    // two multiplier stages (MREG, PREG), and Yosys's opt_merge keeps one
    // copy of the registers that are equal in every PE: the tag pipeline but
    // its row_ok bit, and the write row.
    let pe_dsp = dsp_cost(device, w as u32, w as u32) > 0;
    let xilinx = device == Device::XilinxRamb36;
    let (fabric_mult, weight) = if xilinx && pe_dsp {
        (mult - mult.min(DSP_ABSORBED_MULT_STAGES), 0)
    } else {
        (mult, k * w)
    };
    let stages = 2 + mult + adder;
    let tree_w = wd.tree;
    let common = (wd.local_row + 3) * stages + wd.local_row;
    let pe_regs = stages + weight + k * 2 * w * fabric_mult + tree_w * adder + a + 1;
    let array_regs = if xilinx {
        p * pe_regs + common
    } else {
        p * (pe_regs + common)
    };
    let mut tree = 0;
    let (mut count, mut level) = (k, 0usize);
    while count > 1 {
        tree += (count / 2) * (2 * w + level + 1);
        count = count.div_ceil(2);
        level += 1;
    }
    // With `overlap.load_width` > 1 each private bank is that many
    // sub-banks: the multiplier's operand is picked among their outputs by
    // the index's low bits, delayed to the registered read.
    let lw = cfg.overlap.load_width;
    let sub_select = if lw > 1 {
        crate::arith::clog2(lw) as usize
    } else {
        0
    };
    let pe_luts = tree + a + (a + 1) + w + wd.row_base + k * w * mux_luts(device, lw);
    let array_regs = array_regs + p * k * sub_select;

    let seq_regs = wd.seq_state + wd.pc + wd.instr + wd.off + if latency > 0 { wd.wait } else { 0 };
    vec![
        BlockEstimate {
            name: "pe_array",
            luts: p * pe_luts,
            registers: array_regs,
            multipliers: if pe_dsp { p * k } else { 0 },
        },
        BlockEstimate {
            name: "controller",
            luts: (3 * controller_bits(wd)).div_ceil(2),
            registers: controller_bits(wd),
            multipliers: 0,
        },
        BlockEstimate {
            name: "sequencer",
            luts: 4 * wd.off + 2 * wd.pc + 20,
            registers: seq_regs,
            multipliers: 0,
        },
        BlockEstimate {
            name: "host_registers",
            luts: 34 + wd.pc,
            registers: wd.pc + 64,
            multipliers: 0,
        },
        BlockEstimate {
            name: "ewop",
            luts: lanes * (7 * w + 2 * (wd.act_slope + w)),
            // A second pipeline for the ACT lanes of their own.
            registers: latency
                * (lanes + wd.vaddr + lanes * w)
                * (1 + usize::from(cfg.overlap.act_unit)),
            multipliers: lanes * ewop_lane_dsp(device, w as u32, wd, cfg.overlap.act_unit).1,
        },
        BlockEstimate {
            name: "vector_ports",
            luts: vm.ports_a * 6 * wd.vaddr
                + vm.ports_b * wd.vaddr
                + vm.ports_w * (4 * wd.vaddr + w)
                // bbs_vmem's bank crossbar: every run lane (A and B) and
                // every load port picks one of the banks' outputs, an A port
                // then picks run or load; every bank picks its write port.
                + (vm.ports_a + vm.ports_b + k) * w * mux_luts(device, vm.banks)
                + vm.ports_a * w * mux_luts(device, 2)
                + if vm.banks > 1 {
                    vm.banks * (wd.vbank_row + w + 1) * mux_luts(device, vm.ports_w)
                } else {
                    0
                },
            registers: k * w,
            multipliers: address_dsp(cfg, device, wd, vm).1,
        },
    ]
}

/// A device's DSP, block-RAM and logic budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub dsp_blocks: usize,
    pub block_rams: usize,
    /// ALMs (Intel) or CLB LUTs (Xilinx), compared with
    /// [`ResourceEstimate::logic`].
    pub logic: usize,
}

/// Intel Arria 10 GX1150: 1518 DSP blocks, 2713 M20K, 427,200 ALMs (as
/// commonly cited).
pub const ARRIA10_GX1150: Budget = Budget {
    dsp_blocks: 1518,
    block_rams: 2713,
    logic: 427_200,
};

/// Xilinx Kintex UltraScale XCKU060 (ESE's device): 2760 DSP48E2 slices,
/// 1080 RAMB36, 331,680 CLB LUTs (as commonly cited).
pub const XCKU060: Budget = Budget {
    dsp_blocks: 2760,
    block_rams: 1080,
    logic: 331_680,
};

/// One resource over budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Overrun {
    pub resource: &'static str,
    pub needed: usize,
    pub available: usize,
}

/// Every resource over budget; the message names each
/// (`"dsp_blocks: 1600 needed, 1518 available"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .over.iter().map(|o| format!("{}: {} needed, {} available", o.resource, o.needed, o.available)).collect::<Vec<_>>().join("; "))]
pub struct BudgetError {
    pub over: Vec<Overrun>,
}

pub fn check_budget(est: &ResourceEstimate, budget: &Budget) -> Result<(), BudgetError> {
    let over: Vec<Overrun> = [
        ("dsp_blocks", est.dsp_blocks, budget.dsp_blocks),
        ("block_rams", est.block_rams, budget.block_rams),
        ("logic", est.logic, budget.logic),
    ]
    .into_iter()
    .filter(|&(_, needed, available)| needed > available)
    .map(|(resource, needed, available)| Overrun {
        resource,
        needed,
        available,
    })
    .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(BudgetError { over })
    }
}
