//! The resource model against hand-computed numbers. The Yosys measurements
//! the formulas come from are in docs/synthesis.md; tests/synth.rs checks the
//! estimate against Yosys itself.

use bbs_sim::arch::{VectorMemory, Widths};
use bbs_sim::resources::{
    check_budget, dsp_blocks, estimate, logic_units, memory_blocks, mux_luts, Budget, Device,
    ResourceEstimate, ARRIA10_GX1150, XCKU060,
};
use bbs_sim::Config;
use std::path::Path;

fn hw_config(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hw/configs")
        .join(format!("{name}.toml"));
    Config::from_file(&path).unwrap()
}

/// (name, instances, depth, width, mode, blocks_each, blocks) of every memory.
fn table(est: &ResourceEstimate) -> Vec<(&str, usize, usize, u32, &str, usize, usize)> {
    est.memories
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.instances,
                m.depth,
                m.width,
                m.mode.as_str(),
                m.blocks_each,
                m.blocks,
            )
        })
        .collect()
}

/// (name, luts, registers, multipliers) of every logic block.
fn blocks(est: &ResourceEstimate) -> Vec<(&str, usize, usize, usize)> {
    est.blocks
        .iter()
        .map(|b| (b.name, b.luts, b.registers, b.multipliers))
        .collect()
}

fn mem<'a>(est: &'a ResourceEstimate, name: &str) -> &'a bbs_sim::MemoryEstimate {
    est.memories.iter().find(|m| m.name == name).unwrap()
}

#[test]
fn tiny_config_by_hand() {
    // tiny: 1 PE, 2 banks, Q8.5, A = 17, max_rows 512, max_cols 256,
    // max_slots 128, mult_stages 1, adder_stages 0; 1 EWOP lane of latency 1,
    // 1 element per beat, 2048 vector words, 32 instructions.
    // bank_depth 128, index 7 bits, matrix 512 * 128 = 65536 words of 2 * (8 + 7) = 30 bits.
    let cfg = hw_config("tiny");
    let (wd, vm) = (Widths::new(&cfg), VectorMemory::new(&cfg));
    // Instruction: op 3 + func 2 + a, b, d 3 * 11 + len 12 + rows 10 + slots 8
    // + bank 8 + mat 16 = 92 bits. Vector-memory ports: A = max(2, 1, 1),
    // B = 1, write = max(1, 1, 1): one write port, so distributed RAM.
    assert_eq!(wd.instr, 92);
    assert_eq!((vm.ports_a, vm.ports_b, vm.ports_w), (2, 1, 1));
    assert_eq!((wd.vaddr, wd.off, wd.pc), (11, 12, 6));
    // Q8.5 ACT table: segments of 4 LSBs (step_log2 2), slopes up to 7 bits.
    assert_eq!((wd.act_slope, wd.act_step_log2), (7, 2));

    let m20k = estimate(&cfg, Device::IntelM20k).unwrap();
    // Matrix: 4Kx5 and 2Kx10 both need 96 M20K (6 x 16, 3 x 32); the deeper
    // wins. A vector bank (128 x 8 = 1 kbit) fills 5% of an M20K: block RAM.
    // The instruction buffer and the vector memory are read combinationally:
    // MLAB (32 x 1 cells), the vector memory once per read port.
    assert_eq!(
        table(&m20k),
        vec![
            ("matrix", 1, 65536, 30, "M20K 4Kx5", 96, 96),
            ("vector_bank", 2, 128, 8, "M20K 512x40", 1, 2),
            ("instruction", 1, 32, 92, "MLAB 32x1", 0, 0),
            ("vector", 1, 2048, 8, "MLAB 32x1", 0, 0),
        ]
    );
    assert_eq!(m20k.block_rams, 98); // Yosys 0.23: 98
    assert_eq!(m20k.small_blocks, 2);
    assert_eq!(m20k.memories[0].bits, 65536 * 30);
    // MLAB: 92 for the instructions, 3 ports x 64 deep x 8 bits = 1536 for
    // the vector memory (Yosys 0.23: 1628).
    assert_eq!(mem(&m20k, "vector").lutram_luts, 1536);
    assert_eq!(m20k.lutram_luts, 92 + 1536);
    // Read muxes: the matrix's 16-deep cascade, 30 x ceil(0.65 * 16) = 330;
    // the vector memory's 64 MLABs deep, 3 ports x 8 bits x ceil(0.65 * 64) = 1008.
    assert_eq!(mem(&m20k, "matrix").luts, 30 * 11);
    assert_eq!(mem(&m20k, "vector").luts, 3 * 8 * 42);
    // One PE multiplier pair packs one DSP block; the lane's mul and ACT
    // multiplies share one 8-bit multiplier: ceil(3 / 2) = 2 (Yosys: 2).
    assert_eq!((m20k.multipliers, m20k.dsp_blocks), (2, 2));

    // Registers (Intel: all in the fabric). PE: S = 2 + 1 + 0 = 3 stages,
    // row_ok 3 + weights 2 * 8 + products 2 * 16 + acc 17 + write enable 1 = 69,
    // tags (9 + 3) * 3 + write row 9 = 45. Controller 3 + 2 * 7 + 1 + 16 + 8 +
    // 9 + 11 + 2 = 64. Sequencer 4 + pc 6 + instruction 92 + offset 12 + wait
    // 5 = 119. Host registers 6 + 64. EWOP 1 * (1 + 11 + 8). Vector ports
    // vec_wdata_q 2 * 8.
    assert_eq!(
        blocks(&m20k),
        vec![
            ("pe_array", 17 + 17 + 18 + 8 + 11, 69 + 45, 2),
            ("controller", 96, 64, 0),
            ("sequencer", 4 * 12 + 2 * 6 + 20, 119, 0),
            ("host_registers", 34 + 6, 70, 0),
            ("ewop", 7 * 8 + 2 * (7 + 8), 20, 1),
            // Address arithmetic, and per A port a run/load select (2:1, one LUT per bit).
            (
                "vector_ports",
                2 * 6 * 11 + 11 + (4 * 11 + 8) + 2 * 8,
                16,
                0
            ),
        ]
    );
    assert_eq!(m20k.registers, 114 + 64 + 119 + 70 + 20 + 16); // Yosys: 419
    assert_eq!(m20k.luts, 71 + 96 + 80 + 40 + 86 + 211 + 330 + 1008); // Yosys: 2333

    // Xilinx: the matrix needs 120 RAMB18 halves in four modes; RAMB36 32Kx1
    // (60 blocks, 2 deep, cascaded inside the blocks) is the deepest. The
    // 128-deep banks go to RAM64M (2 deep x 3 = 6 each) and keep their output
    // register in the fabric; the instructions to RAM32M (ceil(92 / 6) = 16);
    // the vector memory with 3 read ports to RAM64M in quad-port mode
    // (32 deep x 8 bits = 256; three simple-dual-port copies would take 288).
    let xil = estimate(&cfg, Device::XilinxRamb36).unwrap();
    assert_eq!(
        table(&xil),
        vec![
            ("matrix", 1, 65536, 30, "RAMB36 32Kx1", 60, 60),
            ("vector_bank", 2, 128, 8, "RAM64M 64x3", 0, 0),
            ("instruction", 1, 32, 92, "RAM32M 32x6", 0, 0),
            ("vector", 1, 2048, 8, "RAM64M 64x1 quad port", 0, 0),
        ]
    );
    let prims: Vec<usize> = xil.memories.iter().map(|m| m.primitives_each).collect();
    assert_eq!(prims, vec![60, 6, 16, 256]);
    // 4 LUTs each: 2 * 24 + 64 + 1024 = 1136 (Yosys 0.23: 1136).
    assert_eq!(xil.lutram_luts, 1136);
    assert_eq!((xil.block_rams, xil.small_blocks), (60, 0)); // Yosys: 60
    let regs: Vec<usize> = xil.memories.iter().map(|m| m.registers).collect();
    assert_eq!(regs, vec![0, 16, 0, 0]);
    // Bank reads mux 2 RAM64M (1 LUT per bit); the vector memory 32, 3 ports
    // x 8 bits x ceil(0.45 * 32) = 360.
    let luts: Vec<usize> = xil.memories.iter().map(|m| m.luts).collect();
    assert_eq!(luts, vec![0, 16, 0, 360]);
    // DSP48: 2 PE multipliers, the lane's 8 x 8 mul and its 7 x 3 ACT
    // multiply (a 10-bit product) apart (Yosys: 4).
    assert_eq!(xil.dsp_blocks, 4);
    // The DSP48s take the weight register and the one multiplier stage:
    // the PE keeps row_ok 3 + acc 17 + write enable 1 (Yosys: 373 in all).
    assert_eq!(xil.blocks[0], {
        let mut b = m20k.blocks[0].clone();
        b.registers = 3 + 17 + 1 + 45;
        b
    });
    assert_eq!(xil.registers, 66 + 64 + 119 + 70 + 20 + 16 + 16);
    assert_eq!(xil.luts, 71 + 96 + 80 + 40 + 86 + 195 + 16 + 16 + 360); // Yosys: 1012
}

#[test]
fn mode_choice() {
    // 2048 x 176 (the default's matrix memory): 1Kx20 = 9 x 2 and 2Kx10 = 18 x 1
    // both take 18 M20K; the deeper 2Kx10 needs no read mux.
    let (mode, prims, units) = memory_blocks(Device::IntelM20k, 2048, 176);
    assert_eq!((mode.depth, mode.width, prims, units), (2048, 10, 18, 18));
    // Xilinx: RAMB36 2Kx18 x 10 = 20 halves, as RAMB18 2Kx9 x 20; fewer primitives win.
    let (mode, prims, units) = memory_blocks(Device::XilinxRamb36, 2048, 176);
    assert_eq!(
        (mode.primitive, mode.depth, mode.width, prims, units),
        ("RAMB36", 2048, 18, 10, 20)
    );
    // Wide and shallow: 64 x 128 -> 512x40 x 4 on M20K, RAMB36 512x72 x 2 on Xilinx.
    let (mode, prims, _) = memory_blocks(Device::IntelM20k, 64, 128);
    assert_eq!((mode.width, prims), (40, 4));
    let (mode, prims, units) = memory_blocks(Device::XilinxRamb36, 64, 128);
    assert_eq!(
        (mode.primitive, mode.width, prims, units),
        ("RAMB36", 72, 2, 4)
    );
    // Deep and narrow: 16K x 3 -> 16Kx1 x 3 = 3 M20K (4Kx5 would need 4).
    let (mode, prims, _) = memory_blocks(Device::IntelM20k, 16384, 3);
    assert_eq!((mode.depth, prims), (16384, 3));
    // A 1 x 1 memory still takes one block.
    assert_eq!(memory_blocks(Device::IntelM20k, 1, 1).1, 1);
    assert_eq!(memory_blocks(Device::XilinxRamb36, 1, 1).2, 1);
}

#[test]
fn default_config_estimate() {
    let cfg = Config::default();
    assert_eq!(cfg, hw_config("default"));
    let (wd, vm) = (Widths::new(&cfg), VectorMemory::new(&cfg));
    // 16-bit values, 16 bytes per beat: 8 elements; 8 banks, 8 lanes, 8 PEs.
    assert_eq!((vm.ports_a, vm.ports_b, vm.ports_w), (8, 8, 8));
    assert_eq!(wd.instr, 96);
    let m20k = estimate(&cfg, Device::IntelM20k).unwrap();
    assert_eq!(
        table(&m20k),
        vec![
            ("matrix", 8, 2048, 176, "M20K 2Kx10", 18, 144),
            ("vector_bank", 64, 64, 16, "M20K 512x40", 1, 64),
            ("instruction", 1, 256, 96, "MLAB 32x1", 0, 0),
            ("vector", 8, 2048, 16, "MLAB 32x1", 0, 0),
        ]
    );
    // 64 PE multipliers and 8 shared lane multipliers, two per block; the
    // address constants 3, 5, 6, 7 have under 4 bits: LUTs.
    assert_eq!(
        (m20k.multipliers, m20k.dsp_blocks, m20k.block_rams),
        (64, 36, 208)
    );
    assert_eq!(m20k.small_blocks, 64);
    // MLABs: the instruction buffer, and the vector memory's 8 banks, one
    // 32 x 1 MLAB per 32 words, bit and read port (K + 2 = 10, of which
    // Yosys's `share` merges one): 8 * 64 * 16 * 9.
    assert_eq!(m20k.lutram_luts, 8 * 96 + 8 * 64 * 16 * 9);
    // Xilinx (hand-computed): every memory but the matrix and the vector
    // memory goes to RAM64M: 64 x 16 -> 1 * 6 per bank, the 256 x 96
    // instruction buffer 4 * 32, 4 LUTs each: 64 * 24 + 512 = 2048.
    let xil = estimate(&cfg, Device::XilinxRamb36).unwrap();
    assert_eq!(
        table(&xil),
        vec![
            ("matrix", 8, 2048, 176, "RAMB36 2Kx18", 10, 80),
            ("vector_bank", 64, 64, 16, "RAM64M 64x3", 0, 0),
            ("instruction", 1, 256, 96, "RAM64M 64x3", 0, 0),
            ("vector", 8, 2048, 16, "RAM64M 64x1 quad port", 0, 0),
        ]
    );
    let prims: Vec<usize> = xil.memories.iter().map(|m| m.primitives_each).collect();
    assert_eq!(prims, vec![10, 6, 128, 1536]);
    assert_eq!(xil.lutram_luts, 64 * 24 + 128 * 4 + 8 * 1536 * 4);
    // DSP48: 64 PE, 8 lanes x 2, and 4 address multiplies (3, 5, 6, 7 times
    // a 7-bit bank size: products of 9 and 10 bits).
    assert_eq!((xil.dsp_blocks, xil.block_rams), (64 + 16 + 4, 80));
    assert_eq!(xil.small_blocks, 0);

    // The vector memory: 8 banks (one per write port) of 2048 x 16, each
    // with a read port per run (a, b) and per load address (8): 10, 9 after
    // Yosys's `share`; quad-port RAM64M, three read ports each, so 3 * 32
    // deep * 16 bits = 1536 primitives per bank. No flip-flops: a single
    // write port per bank keeps it out of a register file (16384 x 16
    // flip-flops, 3.3 million LUTs).
    let v = mem(&xil, "vector");
    assert_eq!((v.read_ports, v.write_ports, v.registers), (10, 1, 0));
    assert_eq!(v.primitives_each, 3 * 32 * 16);
    assert_eq!(v.lutram_luts, 8 * 4 * 3 * 32 * 16);
    let v = mem(&m20k, "vector");
    assert_eq!((v.read_ports, v.write_ports, v.registers), (10, 1, 0));
    check_budget(&m20k, &ARRIA10_GX1150).unwrap();
    check_budget(&xil, &XCKU060).unwrap();
    for est in [&m20k, &xil] {
        println!("{}", serde_json::to_string_pretty(est).unwrap());
    }
}

#[test]
fn xilinx_dsps_absorb_the_weight_register_and_two_multiplier_stages() {
    // 64 products of 32 bits per stage; Intel keeps every stage in the fabric.
    let stage_bits = 8 * 8 * 32;
    let regs = |stages: u32, device| {
        let mut cfg = Config::default();
        cfg.pipeline.mult_stages = stages;
        estimate(&cfg, device).unwrap().registers
    };
    // A stage adds to each PE's tag pipeline: on Intel (7 + 4) bits per PE,
    // on Xilinx the row_ok bit per PE and one shared (7 + 3)-bit copy of the
    // rest (opt_merge).
    let (intel_tag, xilinx_tag) = ((7 + 4) * 8, 8 + (7 + 3));
    // (Up to 4 stages: a fifth widens the controller's drain counter.)
    for stages in 1..=3u32 {
        assert_eq!(
            regs(stages + 1, Device::IntelM20k) - regs(stages, Device::IntelM20k),
            stage_bits + intel_tag,
            "mult_stages {stages}"
        );
        let fabric = if stages + 1 > 2 { stage_bits } else { 0 };
        assert_eq!(
            regs(stages + 1, Device::XilinxRamb36) - regs(stages, Device::XilinxRamb36),
            fabric + xilinx_tag,
            "mult_stages {stages}"
        );
    }
    // With 2 stages the difference is the absorbed stages, the weight
    // registers (8 x 8 x 16 bits, AREG), the merged tags (7 x (8 - 1) copies
    // of 10 bits, and 7 of the 7-bit write row) and the vector banks' output
    // registers, which on Xilinx (RAM64M) are fabric flip-flops.
    let merged = 7 * (10 * 5 + 7);
    assert_eq!(
        regs(2, Device::IntelM20k) - regs(2, Device::XilinxRamb36),
        2 * stage_bits + 8 * 8 * 16 + merged - 64 * 16
    );
}

#[test]
fn xilinx_lutram_depth_boundary() {
    // Vector banks of 128 words go to RAM64M (2 deep: a 2:1 read mux, and a
    // fabric output register), of 129 words to block RAM (one RAMB18 512x36
    // for 16 bits, two per RAMB36).
    let with_bank_depth = |depth: usize| {
        let cfg = Config {
            max_cols: depth * Config::default().banks,
            ..Config::default()
        };
        let est = estimate(&cfg, Device::XilinxRamb36).unwrap();
        mem(&est, "vector_bank").clone()
    };
    let b = with_bank_depth(128);
    assert_eq!(
        (b.depth, b.mode.as_str(), b.blocks, b.primitives_each),
        (128, "RAM64M 64x3", 0, 12)
    );
    assert_eq!(
        (b.lutram_luts, b.luts, b.registers),
        (64 * 48, 64 * 16, 64 * 16)
    );
    let b = with_bank_depth(129);
    assert_eq!(
        (
            b.mode.as_str(),
            b.blocks,
            b.lutram_luts,
            b.luts,
            b.registers
        ),
        ("RAMB18 512x36", 32, 0, 0, 0)
    );
    // 32 words or fewer: RAM32M (32 x 6): ceil(16 / 6) = 3 per bank.
    let b = with_bank_depth(32);
    assert_eq!((b.mode.as_str(), b.primitives_each), ("RAM32M 32x6", 3));
}

#[test]
fn intel_m20k_needs_five_percent_efficiency() {
    // Yosys's M20K rule wants 5% of the block's 20 kbit: 64 x 16 (1 kbit)
    // goes to M20K, 64 x 12 (768 bits) to MLAB, two 32 x 1 cells deep per
    // bit, with a fabric output register and a 2:1 read mux.
    let banks = |w: u32| {
        let cfg = Config {
            value_width: w,
            frac_bits: w - 4,
            acc_width: 2 * w + 3 + 4,
            ..Config::default()
        };
        let est = estimate(&cfg, Device::IntelM20k).unwrap();
        mem(&est, "vector_bank").clone()
    };
    let b = banks(16);
    assert_eq!(
        (b.mode.as_str(), b.blocks, b.registers),
        ("M20K 512x40", 64, 0)
    );
    let b = banks(12);
    assert_eq!(
        (b.mode.as_str(), b.blocks, b.primitives_each, b.lutram_luts),
        ("MLAB 32x1", 0, 2 * 12, 64 * 24)
    );
    assert_eq!(
        (b.registers, b.luts),
        (64 * 12, 64 * 12 * mux_luts(Device::IntelM20k, 2))
    );
}

#[test]
fn vector_memory_banks_are_distributed_ram() {
    // tiny's machine with more lanes: one bank per write port, each
    // distributed RAM, copied per read port or per four (quad port).
    let with = |lanes: usize, link: u32| {
        let mut cfg = hw_config("tiny");
        cfg.ewop.lanes = lanes;
        cfg.host.link_bytes_per_cycle = link;
        cfg
    };
    // (lanes, link bytes) -> read ports A + B, write ports.
    let cases = [
        // Read ports per bank: K (2) load addresses + runs a and b = 4, 3
        // after `share`. 1 lane, 1 element per beat: 1 write port, one bank (tiny).
        ((1, 1), 4, 1, "RAM64M 64x1 quad port", 32 * 8),
        // 2 lanes: 2 write ports: two banks of 1024, one quad-port copy each.
        ((2, 1), 4, 1, "RAM64M 64x1 quad port", 16 * 8),
    ];
    for ((lanes, link), nr, nw, mode, prims) in cases {
        let est = estimate(&with(lanes, link), Device::XilinxRamb36).unwrap();
        let v = mem(&est, "vector");
        assert_eq!(
            (
                v.read_ports,
                v.write_ports,
                v.mode.as_str(),
                v.primitives_each
            ),
            (nr, nw, mode, prims),
            "lanes {lanes}"
        );
    }
    // Two banks, no flip-flops.
    for device in [Device::XilinxRamb36, Device::IntelM20k] {
        let est = estimate(&with(2, 1), device).unwrap();
        let v = mem(&est, "vector");
        assert_eq!((v.instances, v.depth, v.registers), (2, 1024, 0));
    }
    // Quad port against copies (read ports K + 2): 3 take one quad-port copy
    // (256 RAM64M rather than 288), and so do 4, which Yosys's `share` pass
    // makes 3; 5 (4 after `share`) take four 64 x 3 copies (384 rather than
    // two quad-port copies, 512). Read ports: B = lanes;
    // an 8-bit tiny with lanes 1 has A = 2. Vary A through the banks.
    let ports = |banks: usize| {
        let mut cfg = hw_config("tiny");
        cfg.banks = banks;
        cfg.max_cols = 128 * banks;
        cfg.acc_width = 16 + banks.next_power_of_two().trailing_zeros() + 1;
        let est = estimate(&cfg, Device::XilinxRamb36).unwrap();
        let v = mem(&est, "vector");
        (v.read_ports, v.primitives_each)
    };
    assert_eq!(ports(1), (3, 256));
    assert_eq!(ports(2), (4, 256));
    assert_eq!(ports(3), (5, 384));
    // Intel: an MLAB copy per read port, 64 deep x 8 bits.
    let est = estimate(&hw_config("tiny"), Device::IntelM20k).unwrap();
    assert_eq!(mem(&est, "vector").primitives_each, 3 * 64 * 8);
}

#[test]
fn ewop_and_address_dsps() {
    // Default (Q16.12): per lane a 16 x 16 mul and a 13 x 10 ACT multiply.
    let cfg = Config::default();
    let wd = Widths::new(&cfg);
    assert_eq!((wd.act_slope, wd.act_step_log2), (13, 9));
    let ewop = |cfg: &Config, device| {
        let est = estimate(cfg, device).unwrap();
        est.blocks
            .iter()
            .find(|b| b.name == "ewop")
            .unwrap()
            .multipliers
    };
    // Xilinx: both multiplies in DSP48s (mapped before `share`); Intel: one
    // shared multiplier per lane.
    assert_eq!(ewop(&cfg, Device::XilinxRamb36), 16);
    assert_eq!(ewop(&cfg, Device::IntelM20k), 8);
    // Q8.2: one-LSB segments, the ACT offset is the constant 0: no multiply.
    let coarse = Config {
        value_width: 8,
        frac_bits: 2,
        acc_width: 2 * 8 + 3 + 2,
        ..Config::default()
    };
    assert_eq!(Widths::new(&coarse).act_step_log2, 0);
    assert_eq!(ewop(&coarse, Device::XilinxRamb36), 8);
    // Address constants: A ports 0..8 of the default multiply a 7-bit bank
    // size by 3, 5, 6, 7: four DSP48s (9- and 10-bit products); none on
    // Intel (constants under 4 bits). Three PEs (not a power of two) add
    // `row * 3` per PE: 7-bit rows, 9-bit products.
    let address = |cfg: &Config, device| {
        let est = estimate(cfg, device).unwrap();
        est.blocks
            .iter()
            .find(|b| b.name == "vector_ports")
            .unwrap()
            .multipliers
    };
    assert_eq!(address(&cfg, Device::XilinxRamb36), 4);
    assert_eq!(address(&cfg, Device::IntelM20k), 0);
    let three = Config {
        pes: 3,
        max_rows: 384,
        ..Config::default()
    };
    assert_eq!(Widths::new(&three).local_row, 7);
    assert_eq!(address(&three, Device::XilinxRamb36), 4 + 3);
    // tiny: A ports 0 and 1 only.
    assert_eq!(address(&hw_config("tiny"), Device::XilinxRamb36), 0);
}

#[test]
fn budget_errors_name_the_resource() {
    // 200 PEs x 16 multipliers of 16 bits: 3200 PE multipliers and 8 lane
    // multipliers, two per block, and 7 address multiplies (9..15 times a
    // 6-bit bank size; 4-bit constants): ceil(3215 / 2) = 1608 DSP blocks.
    let cfg = Config {
        pes: 200,
        banks: 16,
        ..Config::default()
    };
    // Its 3200 vector banks of 32 x 16 fill 2.5% of an M20K each: MLAB, so
    // block RAM (the 200 matrix memories, 9 M20K each) is within budget.
    let est = estimate(&cfg, Device::IntelM20k).unwrap();
    assert_eq!((est.dsp_blocks, est.block_rams), (1608, 1800));
    // Its logic (the 3200 MLAB banks, 1.2 million ALMs) is over too.
    let e = check_budget(&est, &ARRIA10_GX1150).unwrap_err();
    assert_eq!(
        e.to_string(),
        "dsp_blocks: 1608 needed, 1518 available; logic: 1178773 needed, 427200 available"
    );
    let roomy = Budget {
        logic: 2_000_000,
        ..ARRIA10_GX1150
    };
    let e = check_budget(&est, &roomy).unwrap_err();
    assert_eq!(e.over.len(), 1);
    assert_eq!(e.to_string(), "dsp_blocks: 1608 needed, 1518 available");
    // Only block RAM over budget, then both.
    let small = estimate(&Config::default(), Device::IntelM20k).unwrap();
    let tight = Budget {
        dsp_blocks: 10_000,
        block_rams: 100,
        ..ARRIA10_GX1150
    };
    let e = check_budget(&small, &tight).unwrap_err();
    assert_eq!(e.over.len(), 1);
    assert_eq!(e.to_string(), "block_rams: 208 needed, 100 available");
    let tighter = Budget {
        dsp_blocks: 10,
        block_rams: 100,
        ..ARRIA10_GX1150
    };
    let e = check_budget(&small, &tighter).unwrap_err().to_string();
    assert_eq!(
        e,
        "dsp_blocks: 36 needed, 10 available; block_rams: 208 needed, 100 available"
    );
}

#[test]
fn logic_is_in_the_device_unit() {
    // Xilinx: CLB LUTs, logic and distributed RAM alike; Intel: one LUT per
    // ALM, two 32 x 1 MLAB cells per ALM.
    assert_eq!(logic_units(Device::XilinxRamb36, 100, 41), 141);
    assert_eq!(logic_units(Device::IntelM20k, 100, 41), 121);
    assert_eq!(logic_units(Device::IntelM20k, 100, 40), 120);
    assert_eq!(logic_units(Device::IntelM20k, 0, 0), 0);
    for name in ["default", "tiny", "odd", "wide", "ese-a10"] {
        let cfg = hw_config(name);
        let x = estimate(&cfg, Device::XilinxRamb36).unwrap();
        assert_eq!(x.logic, x.luts + x.lutram_luts, "{name}");
        let i = estimate(&cfg, Device::IntelM20k).unwrap();
        assert_eq!(i.logic, i.luts + i.lutram_luts.div_ceil(2), "{name}");
    }
    assert_eq!(
        (
            Device::IntelM20k.logic_unit(),
            Device::XilinxRamb36.logic_unit()
        ),
        ("ALMs", "CLB LUTs")
    );
    assert_eq!((ARRIA10_GX1150.logic, XCKU060.logic), (427_200, 331_680));
}

#[test]
fn a_configuration_over_the_logic_budget_is_over_on_logic_only() {
    let est = estimate(&Config::default(), Device::IntelM20k).unwrap();
    // 58430 logic LUTs and 74496 MLAB cells (the vector memory's 16 banks).
    assert_eq!(
        (est.luts, est.lutram_luts, est.logic),
        (58430, 74496, 95678)
    );
    check_budget(&est, &ARRIA10_GX1150).unwrap();
    let small = Budget {
        logic: 95_677,
        ..ARRIA10_GX1150
    };
    let e = check_budget(&est, &small).unwrap_err();
    assert_eq!(e.over.len(), 1, "{e}");
    assert_eq!(
        (e.over[0].resource, e.over[0].needed, e.over[0].available),
        ("logic", 95_678, 95_677)
    );
    assert_eq!(e.to_string(), "logic: 95678 needed, 95677 available");
    // Exactly the estimate fits.
    check_budget(
        &est,
        &Budget {
            logic: 95_678,
            ..small
        },
    )
    .unwrap();

    // tiny with a 2^20-word vector memory: one bank of distributed RAM (a
    // combinational read), no more DSPs or block RAM, and far more logic
    // than either device has.
    let mut big = hw_config("tiny");
    big.memory.vector_words = 1 << 20;
    for (device, budget) in [
        (Device::IntelM20k, ARRIA10_GX1150),
        (Device::XilinxRamb36, XCKU060),
    ] {
        let tiny = estimate(&hw_config("tiny"), device).unwrap();
        let est = estimate(&big, device).unwrap();
        assert_eq!(
            (est.dsp_blocks, est.block_rams),
            (tiny.dsp_blocks, tiny.block_rams),
            "{device:?}"
        );
        let e = check_budget(&est, &budget).unwrap_err();
        assert_eq!(e.over.len(), 1, "{device:?}: {e}");
        assert_eq!(e.over[0].resource, "logic");
        assert!(e.over[0].needed > budget.logic, "{e}");
        assert_eq!(e.over[0].available, budget.logic);
    }
}

#[test]
fn ese_a10_fits_the_arria10_logic_but_not_the_xcku060() {
    // The 64 vector banks with 18 read ports each are most of it
    // (docs/simulator.md): 331477 LUTs and 140024 MLAB cells on Intel,
    // 210713 LUTs and 123392 LUTRAM LUTs on Xilinx.
    let cfg = hw_config("ese-a10");
    let i = estimate(&cfg, Device::IntelM20k).unwrap();
    assert_eq!(i.logic, 331_477 + 70_012);
    check_budget(&i, &ARRIA10_GX1150).unwrap();
    let x = estimate(&cfg, Device::XilinxRamb36).unwrap();
    assert_eq!(x.logic, 210_713 + 123_392);
    let e = check_budget(&x, &XCKU060).unwrap_err();
    assert_eq!(e.to_string(), "logic: 334105 needed, 331680 available");
}

#[test]
fn dsp_counts_by_width_and_family() {
    // 64 multipliers.
    assert_eq!(dsp_blocks(Device::IntelM20k, 64, 16), 32); // two 18x19 per block
    assert_eq!(dsp_blocks(Device::IntelM20k, 64, 24), 64); // one 27x27 per block
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 64, 16), 64); // one 27x18 slice
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 64, 24), 128); // 24 > 18: two slices
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 18), 2);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 19), 3);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 30), 6);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 18), 3);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 27), 6);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 32), 12);
    // Yosys leaves small multipliers in LUTs: 4 x 4 (an 8-bit product) on
    // Xilinx, 3 x 3 on Intel.
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 4), 0);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 5), 3);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 3), 0);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 4), 2);
    // The estimate's PE array is exactly that.
    let with_width = |w: u32| Config {
        value_width: w,
        frac_bits: w - 4,
        acc_width: 2 * w + 3 + 2,
        ..Config::default()
    };
    for w in [8, 16, 24] {
        for device in [Device::IntelM20k, Device::XilinxRamb36] {
            let est = estimate(&with_width(w), device).unwrap();
            assert_eq!(est.blocks[0].name, "pe_array");
            assert_eq!(est.blocks[0].multipliers, 64);
            let others: usize = est.blocks[1..].iter().map(|b| b.multipliers).sum();
            assert!(others > 0);
            assert!(
                est.dsp_blocks >= dsp_blocks(device, 64, w),
                "{w} {device:?}"
            );
        }
    }
}

#[test]
fn mux_luts_by_family() {
    assert_eq!(mux_luts(Device::XilinxRamb36, 1), 0);
    assert_eq!(mux_luts(Device::XilinxRamb36, 2), 1);
    assert_eq!(mux_luts(Device::XilinxRamb36, 32), 15);
    assert_eq!(mux_luts(Device::IntelM20k, 2), 1);
    assert_eq!(mux_luts(Device::IntelM20k, 8), 6);
    assert_eq!(mux_luts(Device::IntelM20k, 64), 42);
}

#[test]
fn invalid_configurations_are_errors() {
    let cfg = Config {
        banks: 0,
        ..Config::default()
    };
    let e = estimate(&cfg, Device::XilinxRamb36)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("banks:"), "{e}");
}

#[test]
fn totals_are_the_sums_of_blocks_and_memories() {
    for name in ["default", "tiny", "odd", "wide", "ese-a10"] {
        for device in [Device::IntelM20k, Device::XilinxRamb36] {
            let est = estimate(&hw_config(name), device).unwrap();
            let luts = est.blocks.iter().map(|b| b.luts).sum::<usize>()
                + est.memories.iter().map(|m| m.luts).sum::<usize>();
            let regs = est.blocks.iter().map(|b| b.registers).sum::<usize>()
                + est.memories.iter().map(|m| m.registers).sum::<usize>();
            let lutram: usize = est.memories.iter().map(|m| m.lutram_luts).sum();
            assert_eq!(
                (est.luts, est.registers, est.lutram_luts),
                (luts, regs, lutram)
            );
        }
    }
}

#[test]
fn every_reference_config_fits_the_arria10() {
    // DSP blocks, block RAM and logic (the budget; ese-a10 is the largest,
    // 402513 of 427200 ALMs).
    for name in ["default", "tiny", "odd", "wide", "ese-a10"] {
        let cfg = hw_config(name);
        let est = estimate(&cfg, Device::IntelM20k).unwrap();
        let sum: usize = est.memories.iter().map(|m| m.blocks).sum();
        assert_eq!(est.block_rams, sum);
        assert_eq!(est.multipliers, cfg.pes * cfg.banks);
        check_budget(&est, &ARRIA10_GX1150).unwrap();
    }
}

/// The overlapped machine's second private vector-bank copies
/// (`overlap.vector_buffers = 2`): every bank twice as deep. On ese-a10 a
/// 64-deep bank already fills an M20K, so Intel needs no more block RAM; on
/// Xilinx the banks are LUTRAM and the logic grows.
#[test]
fn double_buffered_vector_banks_are_twice_as_deep() {
    let two = hw_config("ese-a10-overlap");
    let mut one = two.clone();
    one.overlap.vector_buffers = 1;
    assert_eq!(two.overlap.vector_buffers, 2);
    for device in [Device::IntelM20k, Device::XilinxRamb36] {
        let (a, b) = (
            estimate(&one, device).unwrap(),
            estimate(&two, device).unwrap(),
        );
        let (va, vb) = (mem(&a, "vector_bank"), mem(&b, "vector_bank"));
        assert_eq!(vb.depth, 2 * va.depth, "{device:?}");
        assert_eq!(vb.instances, va.instances);
        match device {
            Device::IntelM20k => {
                assert_eq!((va.blocks, vb.blocks), (1024, 1024));
                assert_eq!(a.logic, b.logic);
            }
            Device::XilinxRamb36 => {
                assert!(vb.lutram_luts > va.lutram_luts, "{va:?} {vb:?}");
                assert!(b.logic > a.logic);
            }
        }
    }
}

/// ACT lanes of their own (`overlap.act_unit`): a second lane pipeline
/// (a second bbs_ewop) with its own `slope x offset` multipliers, more
/// registers, and a fourth part of the vector memory; no block RAM.
#[test]
fn act_lanes_of_their_own_take_their_own_multipliers() {
    let mut shared = hw_config("ese-a10");
    shared.overlap.units = true;
    let mut act = shared.clone();
    act.overlap.act_unit = true;
    for device in [Device::IntelM20k, Device::XilinxRamb36] {
        let (a, b) = (
            estimate(&shared, device).unwrap(),
            estimate(&act, device).unwrap(),
        );
        assert!(b.dsp_blocks > a.dsp_blocks, "{a:?} {b:?}");
        assert!(b.registers > a.registers);
        assert_eq!(b.block_rams, a.block_rams);
        assert!(b.memories.iter().any(|m| m.name == "vector_act"));
        assert!(!a.memories.iter().any(|m| m.name == "vector_act"));
    }
}

/// The overlapped machine: the issue stage replaces the controller and the
/// sequencer, the vector memory is one part per writer (each N banks of
/// distributed RAM with one write port and runs + K read ports), and the
/// issue lists, wait table and start-cycle tables are distributed RAM.
#[test]
fn overlapped_machine_estimate() {
    let mini = hw_config("../synth/mini");
    let over = hw_config("../synth/mini-overlap");
    for device in [Device::XilinxRamb36, Device::IntelM20k] {
        let (s, o) = (
            estimate(&mini, device).unwrap(),
            estimate(&over, device).unwrap(),
        );
        let names: Vec<&str> = o.blocks.iter().map(|b| b.name).collect();
        assert_eq!(
            names,
            [
                "pe_array",
                "host_registers",
                "ewop",
                "issue_stage",
                "vector_ports"
            ]
        );
        let parts: Vec<(&str, usize, usize, usize)> = o
            .memories
            .iter()
            .filter(|m| m.name.starts_with("vector_") && m.name != "vector_bank")
            .map(|m| (m.name.as_str(), m.instances, m.depth, m.read_ports))
            .collect();
        // 256 elements in two banks: DMA 32, PE 80, ACT 48, EWOP 96 words;
        // read ports: EWOP a and b, store, ACT, and, on the words the vector
        // load reads (the DMA part, the EWOP part's first 16), one per PE
        // bank.
        assert_eq!(
            parts,
            [
                ("vector_dma", 2, 16, 6),
                ("vector_pe", 2, 40, 4),
                ("vector_act", 2, 24, 4),
                ("vector_ewop_loaded", 2, 8, 6),
                ("vector_ewop", 2, 40, 4)
            ]
        );
        for name in ["issue_list", "wait_table", "start_cycles"] {
            let m = mem(&o, name);
            assert!(m.lutram_luts > 0 && m.blocks == 0, "{name}: {m:?}");
        }
        assert_eq!(mem(&o, "start_cycles").instances, 6);
        assert_eq!(mem(&o, "start_cycles").read_ports, 24);
        // Far more than the serialized mini, all of it in the issue stage
        // and the vector memory's parts and ports.
        assert!(o.luts > 4 * s.luts && o.lutram_luts > 4 * s.lutram_luts);
        if device == Device::XilinxRamb36 {
            // The ACT lanes' slope multiplies (Intel leaves 8-bit ones in LUTs).
            assert_eq!((s.dsp_blocks, o.dsp_blocks), (8, 10));
        }
    }
}
