//! The resource model against hand-computed numbers.

use bbs_sim::resources::{
    check_budget, dsp_blocks, estimate, memory_blocks, Budget, Device, ResourceEstimate,
    ARRIA10_GX1150, XCKU060,
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

#[test]
fn tiny_config_by_hand() {
    // tiny: 1 PE, 2 banks, Q8.5, max_rows 512, max_cols 256, max_slots 128.
    // bank_depth 128, index 7 bits, matrix 512 * 128 = 65536 words of 2 * (8 + 7) = 30 bits.
    let cfg = hw_config("tiny");
    let m20k = estimate(&cfg, Device::IntelM20k).unwrap();
    // Matrix: 4Kx5 and 2Kx10 both need 96 M20K (6 x 16, 3 x 32); the deeper wins.
    assert_eq!(
        table(&m20k),
        vec![
            ("matrix", 1, 65536, 30, "M20K 4Kx5", 96, 96),
            ("vector_bank", 2, 128, 8, "M20K 512x40", 1, 2),
            ("output", 1, 512, 8, "M20K 512x40", 1, 1),
            ("vector", 1, 128, 16, "M20K 512x40", 1, 1),
        ]
    );
    assert_eq!(m20k.block_rams, 100);
    assert_eq!(m20k.multipliers, 2);
    assert_eq!(m20k.dsp_blocks, 1);
    // Only the vector banks (128 x 8 = 1 kbit) are small.
    let small: Vec<bool> = m20k.memories.iter().map(|m| m.small).collect();
    assert_eq!(small, vec![false, true, false, false]);
    assert_eq!(m20k.small_blocks, 2);
    assert_eq!(m20k.memories[0].bits, 65536 * 30);

    assert_eq!(m20k.lutram_luts, 0);

    // Xilinx: the matrix needs 120 RAMB18 halves in four modes; RAMB36 32Kx1
    // (60 blocks, 2 deep) is the deepest. The 128-deep memories go to
    // distributed RAM (hand-computed): a vector bank 128 x 8 takes
    // ceil(128 / 64) * ceil(8 / 3) = 2 * 3 = 6 RAM64M, the vector memory
    // 128 x 16 takes 2 * 6 = 12, 4 LUTs each: 2 * 6 * 4 + 12 * 4 = 96 LUTs
    // (Yosys 0.23: 96). The 512-deep output buffer fits one RAMB18, rounded
    // up to one RAMB36: 60 + 1 = 61 (was 63 when the banks and vector memory
    // took block RAM).
    let xil = estimate(&cfg, Device::XilinxRamb36).unwrap();
    assert_eq!(
        table(&xil),
        vec![
            ("matrix", 1, 65536, 30, "RAMB36 32Kx1", 60, 60),
            ("vector_bank", 2, 128, 8, "RAM64M 64x3", 0, 0),
            ("output", 1, 512, 8, "RAMB18 512x36", 1, 1),
            ("vector", 1, 128, 16, "RAM64M 64x3", 0, 0),
        ]
    );
    let prims: Vec<usize> = xil.memories.iter().map(|m| m.primitives_each).collect();
    assert_eq!(prims, vec![60, 6, 1, 12]);
    let lutram: Vec<usize> = xil.memories.iter().map(|m| m.lutram_luts).collect();
    assert_eq!(lutram, vec![0, 48, 0, 48]);
    assert_eq!(xil.lutram_luts, 96);
    assert_eq!(xil.block_rams, 61);
    assert_eq!(xil.small_blocks, 0);
    assert_eq!(xil.dsp_blocks, 2);

    // Registers: tag (9 + 4) * 3 + weights 2 * 8 + products 2 * 16 + acc 17
    // + write enable 1 + write row 9 = 114; out_pe_q 1; controller
    // 3 + 2 * 7 + 1 + 16 + 8 + 9 + 11 + 2 = 64.
    assert_eq!(m20k.registers, 114 + 1 + 64);
    // LUTs: tree 17, accumulator 17, rounding 18, saturation 8, row compare 11;
    // no output mux for one PE; controller 2 * 64.
    assert_eq!(m20k.luts, 17 + 17 + 18 + 8 + 11 + 128);
    // Xilinx: the one multiplier stage (2 products x 16 bits) is in the
    // DSP48s: 179 - 32 = 147 (was 179 before the absorption rule).
    assert_eq!(xil.registers, m20k.registers - 2 * 16);
    assert_eq!(xil.luts, m20k.luts);
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
    let m20k = estimate(&cfg, Device::IntelM20k).unwrap();
    assert_eq!(
        table(&m20k),
        vec![
            ("matrix", 8, 2048, 176, "M20K 2Kx10", 18, 144),
            ("vector_bank", 64, 64, 16, "M20K 512x40", 1, 64),
            ("output", 8, 128, 16, "M20K 512x40", 1, 8),
            ("vector", 1, 64, 128, "M20K 512x40", 4, 4),
        ]
    );
    assert_eq!(
        (m20k.multipliers, m20k.dsp_blocks, m20k.block_rams),
        (64, 32, 220)
    );
    assert_eq!(m20k.small_blocks, 64);
    // Xilinx (hand-computed; was 32 + 4 + 2 more RAMB36, 118 in all): every
    // memory but the matrix is at most 128 deep and goes to RAM64M:
    // 64 x 16 -> 1 * 6, 128 x 16 -> 2 * 6, 64 x 128 -> 1 * 43 per instance,
    // 4 LUTs each: 64 * 24 + 8 * 48 + 172 = 2092 (Yosys 0.23: 2092).
    let xil = estimate(&cfg, Device::XilinxRamb36).unwrap();
    assert_eq!(
        table(&xil),
        vec![
            ("matrix", 8, 2048, 176, "RAMB36 2Kx18", 10, 80),
            ("vector_bank", 64, 64, 16, "RAM64M 64x3", 0, 0),
            ("output", 8, 128, 16, "RAM64M 64x3", 0, 0),
            ("vector", 1, 64, 128, "RAM64M 64x3", 0, 0),
        ]
    );
    let prims: Vec<usize> = xil.memories.iter().map(|m| m.primitives_each).collect();
    assert_eq!(prims, vec![10, 6, 12, 43]);
    assert_eq!(xil.lutram_luts, 64 * 24 + 8 * 48 + 43 * 4);
    assert_eq!(xil.lutram_luts, 2092);
    assert_eq!((xil.dsp_blocks, xil.block_rams), (64, 80));
    assert_eq!(xil.small_blocks, 0);
    assert_eq!(m20k.lutram_luts, 0);
    // Both multiplier stages (8 PEs x 8 products x 32 bits x 2) are in the
    // DSP48s' M and P registers: 6281 - 4096 = 2185 (was 6281).
    assert_eq!(m20k.registers, 6281);
    assert_eq!(xil.registers, 6281 - 8 * 8 * 32 * 2);
    assert_eq!(xil.luts, m20k.luts);
    check_budget(&m20k, &ARRIA10_GX1150).unwrap();
    check_budget(&xil, &XCKU060).unwrap();
    for est in [&m20k, &xil] {
        println!("{}", serde_json::to_string_pretty(est).unwrap());
    }
}

#[test]
fn xilinx_dsps_absorb_at_most_two_multiplier_stages() {
    // 64 products of 32 bits per stage; Intel keeps every stage in the fabric.
    let stage_bits = 8 * 8 * 32;
    let regs = |stages: u32, device| {
        let mut cfg = Config::default();
        cfg.pipeline.mult_stages = stages;
        estimate(&cfg, device).unwrap().registers
    };
    for stages in 1..=4u32 {
        let absorbed = stages.min(2) as usize * stage_bits;
        assert_eq!(
            regs(stages, Device::XilinxRamb36),
            regs(stages, Device::IntelM20k) - absorbed,
            "mult_stages {stages}"
        );
    }
    // Each stage adds a tag stage of (local_row 7 + 4) bits per PE; the
    // second multiplier stage adds only that on Xilinx, a third stage is a
    // fabric stage on Xilinx too.
    let tag_bits = (7 + 4) * 8;
    assert_eq!(
        regs(2, Device::XilinxRamb36) - regs(1, Device::XilinxRamb36),
        tag_bits
    );
    assert_eq!(
        regs(3, Device::XilinxRamb36) - regs(2, Device::XilinxRamb36),
        stage_bits + tag_bits
    );
    assert_eq!(
        regs(3, Device::IntelM20k) - regs(2, Device::IntelM20k),
        stage_bits + tag_bits
    );
}

#[test]
fn xilinx_lutram_depth_boundary() {
    // 128 deep goes to RAM64M, 129 deep to block RAM (one RAMB18 512x36 for 16 bits).
    let with_rows = |rows_per_pe_target: usize| {
        let cfg = Config {
            max_rows: rows_per_pe_target * Config::default().pes,
            ..Config::default()
        };
        let est = estimate(&cfg, Device::XilinxRamb36).unwrap();
        let out = est.memories.iter().find(|m| m.name == "output").unwrap();
        (
            out.depth,
            out.mode.clone(),
            out.blocks,
            out.lutram_luts,
            out.primitives_each,
        )
    };
    let (depth, mode, blocks, luts, prims) = with_rows(128);
    assert_eq!(
        (depth, mode.as_str(), blocks, luts, prims),
        (128, "RAM64M 64x3", 0, 8 * 12 * 4, 12)
    );
    let (depth, mode, blocks, luts, _) = with_rows(136);
    assert!(depth > 128, "{depth}");
    assert_eq!((mode.as_str(), blocks, luts), ("RAMB18 512x36", 4, 0));
}

#[test]
fn budget_errors_name_the_resource() {
    // 200 PEs x 16 multipliers of 16 bits: 3200 multipliers = 1600 DSP blocks.
    let cfg = Config {
        pes: 200,
        banks: 16,
        ..Config::default()
    };
    let est = estimate(&cfg, Device::IntelM20k).unwrap();
    assert_eq!(est.dsp_blocks, 1600);
    let e = check_budget(&est, &ARRIA10_GX1150).unwrap_err().to_string();
    assert!(e.contains("dsp_blocks: 1600 needed, 1518 available"), "{e}");
    assert!(
        e.contains(&format!(
            "block_rams: {} needed, 2713 available",
            est.block_rams
        )),
        "{e}"
    );
    // Only block RAM over budget.
    let tight = Budget {
        dsp_blocks: 10_000,
        block_rams: 100,
    };
    let small = estimate(&Config::default(), Device::IntelM20k).unwrap();
    let e = check_budget(&small, &tight).unwrap_err();
    assert_eq!(e.over.len(), 1);
    assert_eq!(e.to_string(), "block_rams: 220 needed, 100 available");
}

#[test]
fn dsp_counts_by_width_and_family() {
    let with_width = |w: u32| Config {
        value_width: w,
        acc_width: 2 * w + 3 + 2,
        ..Config::default()
    };
    let dsp = |w: u32, device| estimate(&with_width(w), device).unwrap().dsp_blocks;
    // 64 multipliers.
    assert_eq!(dsp(16, Device::IntelM20k), 32); // two 18x19 per block
    assert_eq!(dsp(24, Device::IntelM20k), 64); // one 27x27 per block
    assert_eq!(dsp(16, Device::XilinxRamb36), 64); // one 27x18 slice
    assert_eq!(dsp(24, Device::XilinxRamb36), 128); // 24 > 18: two slices
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 18), 2);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 19), 3);
    assert_eq!(dsp_blocks(Device::IntelM20k, 3, 30), 6);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 18), 3);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 27), 6);
    assert_eq!(dsp_blocks(Device::XilinxRamb36, 3, 32), 12);
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
fn every_reference_config_fits_the_arria10() {
    for name in ["default", "tiny", "odd", "wide"] {
        let cfg = hw_config(name);
        let est = estimate(&cfg, Device::IntelM20k).unwrap();
        let sum: usize = est.memories.iter().map(|m| m.blocks).sum();
        assert_eq!(est.block_rams, sum);
        assert_eq!(est.multipliers, cfg.pes * cfg.banks);
        check_budget(&est, &ARRIA10_GX1150).unwrap();
    }
}
