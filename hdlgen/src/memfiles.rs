//! The testbench's files for one SpMxV: the program `load x; spmv; store y`
//! around a single matrix (see [`crate::program`] for the files themselves).

use crate::program::{MatrixLoad, RunFiles};
use bbs_compress::Csb;
use bbs_sim::arch::interleave::{HostLayout, Interleave};
use bbs_sim::isa::{Instr, Region};
use bbs_sim::machine::Program;
use bbs_sim::overlap::regions::{Writer, WriterRegions};
use bbs_sim::Config;
use std::path::Path;

/// `x` at vector address 0, `y = W x` right after it, then stored; on the
/// overlapped machine `y` at the start of the PE array's part of the vector
/// memory (`bbs_sim::overlap::regions`). With `overlap.interleaved` the
/// host sends `x` bank-interleaved (`banks * bank_size` words, zeros in the
/// padding: `Program.host.load`) and takes `y` in row order.
pub fn spmv_program(cfg: &Config, csb: &Csb) -> Program {
    let interleave = (cfg.overlap.units && cfg.overlap.interleaved)
        .then(|| Interleave::new(csb.cols, cfg.banks));
    let x = Region::new(0, interleave.map_or(csb.cols, |il| il.words()));
    // An invalid split is refused when the program is validated.
    let pe_part = if cfg.overlap.units {
        WriterRegions::new(cfg).ok().and_then(|p| p.of(Writer::Pe))
    } else {
        None
    };
    let y_base = pe_part.map_or(x.len, |r| r.base);
    let y = Region::new(y_base, csb.rows);
    Program {
        instrs: vec![
            Instr::Load { dst: x },
            Instr::Spmv {
                matrix: 0,
                src: x,
                dst: y,
            },
            Instr::Store { src: y },
        ],
        preloaded: vec![],
        host: HostLayout {
            load: interleave,
            store: None,
        },
        ..Program::default()
    }
}

/// Write everything the testbench reads for `y = W x` into `dir`. The caller
/// has checked the matrix, the vector and the program against the
/// configuration (`bbs_sim::Machine::validate`).
pub fn write_run_files(
    cfg: &Config,
    csb: &Csb,
    x: &[i64],
    dir: &Path,
) -> Result<(), bbs_compress::Error> {
    RunFiles {
        cfg,
        matrices: std::slice::from_ref(csb),
        program: &spmv_program(cfg, csb),
        inputs: &[x.to_vec()],
        runs: 1,
        matrix_load: MatrixLoad::Init,
    }
    .write(dir)
}
