//! Every vector-bank read of a traced program, as CSV.

use super::{ProgramTrace, TraceError};
use crate::config::Config;
use bbs_compress::Csb;
use std::io::Write;

/// Every vector-bank read of every SpMxV of `trace` as CSV lines
/// `cycle,pe,bank,address`: `cycle` is the rising edge at which PE `pe`'s
/// bank `bank` reads `address` (the edge after the word is issued: the
/// matrix memory answers first), in the edges of the trace's VCD. A PE whose
/// row does not exist reads its zero padding word (address 0). Sorted by
/// cycle, PE, bank.
pub fn write_bank_reads_csv(
    cfg: &Config,
    matrices: &[Csb],
    trace: &ProgramTrace,
    w: impl Write,
) -> Result<(), TraceError> {
    let csv_err = |e: csv::Error| TraceError::Invalid(format!("writing the CSV: {e}"));
    let mut out = csv::Writer::from_writer(w);
    out.write_record(["cycle", "pe", "bank", "address"])
        .map_err(csv_err)?;
    let k = cfg.banks;
    let zeros = vec![0u16; k];
    for s in &trace.spmvs {
        let m = matrices.get(s.matrix).ok_or_else(|| {
            TraceError::Invalid(format!(
                "the trace names matrix {}, {} given",
                s.matrix,
                matrices.len()
            ))
        })?;
        let first_issue = s.start_edge + s.cycles.start + s.cycles.load;
        for t in 0..s.cycles.compute {
            let (j, slot) = ((t / m.slots as u64) as usize, (t % m.slots as u64) as usize);
            let edge = first_issue + t + 1;
            for pe in 0..cfg.pes {
                let row = j * cfg.pes + pe;
                let idx = if row < m.rows {
                    m.word(row, slot).1
                } else {
                    &zeros[..]
                };
                for (bank, a) in idx.iter().enumerate() {
                    out.serialize((edge, pe, bank, a)).map_err(csv_err)?;
                }
            }
        }
    }
    out.flush()
        .map_err(|e| TraceError::Invalid(format!("writing the CSV: {e}")))
}
