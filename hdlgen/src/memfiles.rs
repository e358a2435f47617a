//! The `$readmemh` inputs of one run of the testbench: the matrix memories
//! (`pe<p>_mat.hex`, from `bbs_compress::hex`), the input vector (`vec.hex`)
//! and the run's sizes (`run.hex`).

use bbs_compress::{hex, write_bytes_atomic, Csb};
use bbs_sim::Config;
use std::fmt::Write as _;
use std::path::Path;

/// The input vector as vector-memory words: word `j` holds element
/// `b * bank_size + j` of bank `b` at bits `[b*W, b*W+W)`, zero past the end.
pub fn vector_hex(csb: &Csb, x: &[i64], width: u32) -> String {
    let mut text = String::new();
    for j in 0..csb.bank_size {
        let values: Vec<i32> = (0..csb.banks)
            .map(|b| x.get(b * csb.bank_size + j).copied().unwrap_or(0) as i32)
            .collect();
        text.push_str(&hex::pack_word(&values, &[], width, 0));
        text.push('\n');
    }
    text
}

/// Write everything the testbench reads into `dir`. The caller has checked
/// the matrix and vector against the configuration (as `simulate_spmv` does).
pub fn write_run_files(
    cfg: &Config,
    csb: &Csb,
    x: &[i64],
    dir: &Path,
) -> Result<(), bbs_compress::Error> {
    hex::write_matrix_hex(csb, cfg.pes, cfg.index_width(), dir)?;
    write_bytes_atomic(
        &dir.join("vec.hex"),
        vector_hex(csb, x, cfg.value_width).as_bytes(),
    )?;
    let mut run = String::new();
    for v in [csb.rows, csb.slots, csb.bank_size] {
        writeln!(run, "{v:08x}").expect("writing to a String");
    }
    write_bytes_atomic(&dir.join("run.hex"), run.as_bytes())
}
