//! FPGA resource estimate of a configuration: DSP blocks, block RAMs,
//! flip-flops and LUTs of the generated RTL (`templates/bbs_*.v`).
//!
//! Device facts are "as commonly cited" from the vendors' device overviews
//! and user guides (Intel Arria 10 Core Fabric and General Purpose I/O
//! Handbook / Native Fixed Point DSP user guide; Xilinx UltraScale
//! Architecture Memory Resources UG573 and DSP Slice UG579); check them before
//! relying on a number.
//!
//! # Memories (from `bbs_pe.v` and `bbs_top.v`)
//!
//! | memory | instances | depth | width |
//! |---|---|---|---|
//! | `matrix` | P | `cfg.matrix_depth()` | `cfg.matrix_word_width()` |
//! | `vector_bank` | P * K | `cfg.bank_depth()` | `value_width` |
//! | `output` | P | `cfg.rows_per_pe()` | `value_width` |
//! | `vector` | 1 | `cfg.bank_depth()` | `K * value_width` |
//!
//! All are simple dual-port (one write port, one registered read port), so the
//! widest simple-dual-port modes are available.
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
//! # Distributed RAM (Xilinx only)
//!
//! On [`Device::XilinxRamb36`] a memory of depth at most
//! [`LUTRAM_MAX_DEPTH`] (128) goes to distributed RAM (LUTRAM), as Vivado's
//! and Yosys's `synth_xilinx` memory mapping do: it takes no block RAM
//! (`blocks` 0, mode `"RAM64M 64x3"`) and `ceil(depth / 64) * ceil(width / 3)`
//! RAM64M per instance (one 64-deep, 3-bit simple-dual-port RAM with a
//! separate write address), 4 LUTs each, reported as `lutram_luts` (kept apart
//! from the logic `luts`): 64 x 16 takes 6 RAM64M, 128 x 16 takes 12, 64 x 128
//! takes 43. Deeper memories go to RAMB36/RAMB18 as above. Intel memories
//! always go to M20K here (Yosys's MLAB rule only takes 32-deep memories).
//!
//! Memories of at most 1 kbit per instance (e.g. the default's 64 x 16 vector
//! banks) would often go to MLAB (Intel, 640 bits each) in a real flow. They
//! are still counted as block RAM on Intel (the conservative case), flagged
//! `small` (on both devices), and their blocks are summed in
//! [`ResourceEstimate::small_blocks`] (0 on Xilinx for the LUTRAM ones).
//!
//! # DSPs
//!
//! One multiplier per bank per PE (P * K), `value_width x value_width` signed:
//!
//! * Intel Arria 10 variable-precision DSP block: two 18x19 multipliers, or
//!   one 27x27: width <= 18 packs 2 multipliers per block, <= 27 takes 1
//!   block, wider (up to 32) takes 2 blocks (the two-block 36x36 mode).
//! * Xilinx DSP48E2 (27x18 multiplier): `ceil(W / 27) * ceil(W / 18)` slices
//!   per multiplier: 1 for W <= 18, 2 for W <= 27, 4 for W <= 32.
//!
//! # Registers (flip-flop bits, from the RTL)
//!
//! Per PE: the tag pipeline `(local_row_w + 4) * (2 + mult_stages +
//! adder_stages)`, the weight register `K * W`, the multiplier stages
//! `K * 2W * mult_stages`, the adder-tree stages `(2W + ceil(log2 K)) *
//! adder_stages`, the accumulator `A`, the write enable 1 and the write row
//! `local_row_w`. Top: `out_pe_q` (`clog2 P`). Controller: state 3, two
//! vector addresses `2 * index_w`, vector write enable 1, `mat_addr_w`,
//! `slots_w`, `local_row_w`, `row_base_w`, `drain_w`. Block-RAM output
//! registers live inside the RAMs and are not counted.
//!
//! On [`Device::XilinxRamb36`] the first [`DSP_ABSORBED_MULT_STAGES`] (2)
//! multiplier stages are absorbed into the DSP48's M and P registers, as
//! Vivado and Yosys's `synth_xilinx` do, and are not counted: a PE counts
//! `K * 2W * (mult_stages - min(mult_stages, 2))` multiplier flip-flops there.
//! On Intel they stay in the fabric (as Yosys's `synth_intel_alm` keeps them).
//!
//! # LUTs (LUT6 / half-ALM equivalents; a rough estimate, +-50%)
//!
//! One LUT per result bit of every 2-input adder and comparator, one per bit
//! of a 4:1 mux:
//!
//! * adder tree per PE: every pairwise adder at level `l` (0-based) is
//!   `2W + l + 1` bits (the exact tree of `bbs_adder_tree.v`);
//! * accumulator per PE: `A` (the `first` select folds into the adder LUTs);
//! * round and saturate per PE: `A + 1` (rounding adder) + `W` (saturation mux);
//! * row-valid compare per PE in the top: `row_base_w`;
//! * output read mux in the top: `W * ceil((P - 1) / 3)`;
//! * controller: 2 per controller flip-flop bit (next state and compare).

use crate::arith::{ceil_log2, clog2};
use crate::config::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// A device family's block-RAM and DSP primitives; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// Intel Arria 10 (also Cyclone 10 GX, Stratix 10): M20K, 18x19 DSP blocks.
    IntelM20k,
    /// Xilinx 7-series / UltraScale / UltraScale+: RAMB36/RAMB18, DSP48E2.
    XilinxRamb36,
}

impl Device {
    pub fn label(&self) -> &'static str {
        match self {
            Device::IntelM20k => "Intel M20K (Arria 10)",
            Device::XilinxRamb36 => "Xilinx RAMB36 (UltraScale)",
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

/// On Xilinx, memories of at most this depth go to distributed RAM (RAM64M).
pub const LUTRAM_MAX_DEPTH: usize = 128;

/// LUTs of one RAM64M (64 x 3 simple dual port, 4 LUT6 in a SLICEM).
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
    /// The chosen mode, e.g. `"M20K 2Kx10"`, `"RAMB18 1Kx18"`, or
    /// `"RAM64M 64x3"` for distributed RAM (Xilinx, depth <= [`LUTRAM_MAX_DEPTH`]).
    pub mode: String,
    /// Primitives of `mode` per instance.
    pub primitives_each: usize,
    /// Device blocks per instance: M20K, or RAMB36 equivalents rounded up;
    /// 0 for distributed RAM.
    pub blocks_each: usize,
    /// Device blocks of all instances: `instances * blocks_each` on Intel;
    /// on Xilinx `ceil(instances * halves_each / 2)` (halves pair up); 0 for
    /// distributed RAM.
    pub blocks: usize,
    /// LUTs of all instances spent as distributed RAM:
    /// `instances * primitives_each * 4` for RAM64M, else 0.
    pub lutram_luts: usize,
    /// Stored bits of all instances: `instances * depth * width`.
    pub bits: u64,
    /// At most [`SMALL_MEMORY_BITS`] per instance: MLAB/LUTRAM material.
    pub small: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceEstimate {
    pub device: Device,
    /// `P * K`.
    pub multipliers: usize,
    pub dsp_blocks: usize,
    /// Sum of the memories' `blocks` (M20K, or RAMB36 equivalents).
    pub block_rams: usize,
    /// Sum of the memories' `lutram_luts` (Xilinx distributed RAM; 0 on Intel).
    pub lutram_luts: usize,
    /// The part of `block_rams` spent on `small` memories.
    pub small_blocks: usize,
    pub memories: Vec<MemoryEstimate>,
    /// Flip-flop bits of the pipelines, accumulators and controller (on
    /// Xilinx without the multiplier stages absorbed into DSP slices).
    pub registers: usize,
    /// Logic LUTs: adder trees, accumulators, rounding, muxes and control (see
    /// the module doc); distributed RAM is in `lutram_luts`.
    pub luts: usize,
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

fn memory(
    device: Device,
    name: &str,
    instances: usize,
    depth: usize,
    width: u32,
) -> MemoryEstimate {
    let bits_each = depth as u64 * width as u64;
    let small = bits_each <= SMALL_MEMORY_BITS;
    if device == Device::XilinxRamb36 && depth <= LUTRAM_MAX_DEPTH {
        let primitives_each = depth.div_ceil(64).max(1) * (width.div_ceil(3) as usize).max(1);
        return MemoryEstimate {
            name: name.to_string(),
            instances,
            depth,
            width,
            mode: "RAM64M 64x3".to_string(),
            primitives_each,
            blocks_each: 0,
            blocks: 0,
            lutram_luts: instances * primitives_each * RAM64M_LUTS,
            bits: bits_each * instances as u64,
            small,
        };
    }
    let (m, primitives_each, units) = memory_blocks(device, depth, width);
    let (blocks_each, blocks) = match device {
        Device::IntelM20k => (units, units * instances),
        Device::XilinxRamb36 => (units.div_ceil(2), (units * instances).div_ceil(2)),
    };
    MemoryEstimate {
        name: name.to_string(),
        instances,
        depth,
        width,
        mode: mode_name(&m),
        primitives_each,
        blocks_each,
        blocks,
        lutram_luts: 0,
        bits: bits_each * instances as u64,
        small,
    }
}

/// DSP blocks (Intel) or slices (Xilinx) for `multipliers` signed
/// `width x width` multipliers.
pub fn dsp_blocks(device: Device, multipliers: usize, width: u32) -> usize {
    match device {
        Device::IntelM20k => match width {
            0..=18 => multipliers.div_ceil(2),
            19..=27 => multipliers,
            _ => 2 * multipliers,
        },
        Device::XilinxRamb36 => {
            multipliers * (width.div_ceil(27) as usize) * (width.div_ceil(18) as usize)
        }
    }
}

/// The resources of `cfg` on `device`; an invalid configuration errors,
/// naming its field.
pub fn estimate(cfg: &Config, device: Device) -> Result<ResourceEstimate, ConfigError> {
    cfg.validate()?;
    let (p, k, w) = (cfg.pes, cfg.banks, cfg.value_width);
    let memories = vec![
        memory(
            device,
            "matrix",
            p,
            cfg.matrix_depth(),
            cfg.matrix_word_width(),
        ),
        memory(device, "vector_bank", p * k, cfg.bank_depth(), w),
        memory(device, "output", p, cfg.rows_per_pe(), w),
        memory(device, "vector", 1, cfg.bank_depth(), k as u32 * w),
    ];
    let block_rams = memories.iter().map(|m| m.blocks).sum();
    let lutram_luts = memories.iter().map(|m| m.lutram_luts).sum();
    let small_blocks = memories.iter().filter(|m| m.small).map(|m| m.blocks).sum();
    let multipliers = p * k;
    Ok(ResourceEstimate {
        device,
        multipliers,
        dsp_blocks: dsp_blocks(device, multipliers, w),
        block_rams,
        lutram_luts,
        small_blocks,
        memories,
        registers: registers(cfg, device),
        luts: luts(cfg),
    })
}

/// Widths of the generated RTL (as `bbs-hdlgen`'s parameters derive them).
struct Widths {
    local_row: usize,
    row_base: usize,
    ctrl_bits: usize,
}

fn widths(cfg: &Config) -> Widths {
    let rows_per_pe = cfg.rows_per_pe();
    let local_row = clog2(rows_per_pe) as usize;
    let rows_w = clog2(cfg.max_rows + 1) as usize;
    let row_base = (clog2(rows_per_pe * cfg.pes + 1) as usize).max(rows_w + 1);
    let index_w = cfg.index_width() as usize;
    let ctrl_bits = 3
        + 2 * index_w
        + 1
        + clog2(cfg.matrix_depth()) as usize
        + clog2(cfg.max_slots + 1) as usize
        + local_row
        + row_base
        + clog2(cfg.drain_cycles() as usize) as usize;
    Widths {
        local_row,
        row_base,
        ctrl_bits,
    }
}

fn registers(cfg: &Config, device: Device) -> usize {
    let (k, w, a) = (cfg.banks, cfg.value_width as usize, cfg.acc_width as usize);
    let (mult, adder) = (
        cfg.pipeline.mult_stages as usize,
        cfg.pipeline.adder_stages as usize,
    );
    // Multiplier stages left in the fabric (the rest are DSP48 M/P registers).
    let fabric_mult = match device {
        Device::IntelM20k => mult,
        Device::XilinxRamb36 => mult - mult.min(DSP_ABSORBED_MULT_STAGES),
    };
    let wd = widths(cfg);
    let tree_w = 2 * w + ceil_log2(k) as usize;
    let per_pe = (wd.local_row + 4) * (2 + mult + adder)
        + k * w
        + k * 2 * w * fabric_mult
        + tree_w * adder
        + a
        + 1
        + wd.local_row;
    cfg.pes * per_pe + clog2(cfg.pes) as usize + wd.ctrl_bits
}

fn luts(cfg: &Config) -> usize {
    let (p, w, a) = (cfg.pes, cfg.value_width as usize, cfg.acc_width as usize);
    let wd = widths(cfg);
    let mut tree = 0;
    let (mut count, mut level) = (cfg.banks, 0usize);
    while count > 1 {
        tree += (count / 2) * (2 * w + level + 1);
        count = count.div_ceil(2);
        level += 1;
    }
    let per_pe = tree + a + (a + 1) + w + wd.row_base;
    p * per_pe + w * (p - 1).div_ceil(3) + 2 * wd.ctrl_bits
}

/// A device's DSP and block-RAM budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub dsp_blocks: usize,
    pub block_rams: usize,
}

/// Intel Arria 10 GX1150: 1518 DSP blocks, 2713 M20K (as commonly cited).
pub const ARRIA10_GX1150: Budget = Budget {
    dsp_blocks: 1518,
    block_rams: 2713,
};

/// Xilinx Kintex UltraScale XCKU060 (ESE's device): 2760 DSP48E2 slices,
/// 1080 RAMB36 (as commonly cited).
pub const XCKU060: Budget = Budget {
    dsp_blocks: 2760,
    block_rams: 1080,
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
