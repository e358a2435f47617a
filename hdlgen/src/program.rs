//! The instruction word of the generated controller, and the files one run of
//! a program needs: the instruction buffer (`program.hex`), the vector
//! memory's initial contents (`vmem_b<b>.hex`, one file per bank; on the
//! overlapped machine `vmem_p<q>_b<b>.hex` per part and bank), the matrix memories
//! (`pe<p>_mat.hex`, or `pe<p>_load.hex` for the testbench to write through the
//! run-time load port), the host's input stream (`in.hex`) and the run's
//! parameters (`run.hex`).
//!
//! The instruction word is `bbs_sim::arch::encoding`'s; matrices sit in the
//! PEs' matrix memories where `bbs_sim::arch::placement` puts them.

use bbs_compress::{hex::pack_word, Csb, HexWord, Out, OutputPlan};
use bbs_sim::arch::placement::{self, VectorMemory};
use bbs_sim::arch::{InstrFields, Layout};
use bbs_sim::machine::Program;
use bbs_sim::overlap::regions::WriterRegions;
use bbs_sim::Config;
use std::fmt::Write as _;
use std::path::Path;

/// Each PE's matrix-memory lines: every matrix's rows `p, p + pes, ...`,
/// padded with zero words to [`placement::words`] so all PEs agree on where
/// the next matrix starts. At least one line.
pub fn matrix_lines(cfg: &Config, matrices: &[Csb]) -> Vec<String> {
    let (k, w, iw) = (cfg.banks, cfg.value_width, cfg.index_width());
    let zero = pack_word(&vec![0; k], &vec![0; k], w, iw);
    (0..cfg.pes)
        .map(|p| {
            let mut text = String::new();
            for m in matrices {
                for word in 0..placement::words(cfg, m) {
                    let (local, s) = (word / m.slots, word % m.slots);
                    let r = local * cfg.pes + p;
                    if r < m.rows {
                        let (values, indices) = m.word(r, s);
                        text.push_str(&pack_word(values, indices, w, iw));
                    } else {
                        text.push_str(&zero);
                    }
                    text.push('\n');
                }
            }
            if text.is_empty() {
                text.push_str(&zero);
                text.push('\n');
            }
            text
        })
        .collect()
}

/// How the testbench gets the matrices into the PEs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixLoad {
    /// `$readmemh` of `pe<p>_mat.hex` at elaboration (the block RAM's initial contents).
    Init,
    /// The testbench writes `pe<p>_load.hex` through `mat_we_i` before the first
    /// start; `pe<p>_mat.hex` holds zeros, so a broken load port shows.
    Port,
}

/// A program, its matrices and the host's inputs, as the testbench's files.
pub struct RunFiles<'a> {
    pub cfg: &'a Config,
    pub matrices: &'a [Csb],
    pub program: &'a Program,
    /// Every vector the host sends, in order (all `load`s of all runs), in
    /// element order: the stream carries each as `program.host` lays it out
    /// ([`bbs_sim::arch::interleave::HostLayout::load_words`]).
    pub inputs: &'a [Vec<i64>],
    /// How many times the testbench starts the program (frames).
    pub runs: usize,
    pub matrix_load: MatrixLoad,
}

impl RunFiles<'_> {
    /// Write the files into `dir` (created if missing), all or nothing
    /// ([`OutputPlan`]); other files in `dir` are left as they are.
    pub fn write(&self, dir: &Path) -> Result<(), bbs_compress::Error> {
        let mut plan = OutputPlan::new();
        let out = plan.dir("", dir)?;
        self.stage(&mut plan, out, "")?;
        plan.publish()
    }

    /// Stage the files into directory output `out` of `plan`, under `sub`
    /// (`""`, or a subdirectory such as `"run"`).
    pub fn stage(
        &self,
        plan: &mut OutputPlan,
        out: Out,
        sub: &str,
    ) -> Result<(), bbs_compress::Error> {
        for (name, text) in self.files() {
            let rel = if sub.is_empty() {
                name
            } else {
                format!("{sub}/{name}")
            };
            plan.write_in(out, &rel, text.as_bytes())?;
        }
        Ok(())
    }

    /// Every file of the run: (name, contents).
    pub fn files(&self) -> Vec<(String, String)> {
        let cfg = self.cfg;
        let mut files = Vec::new();
        let mats = placement::place(cfg, self.matrices);
        let layout = Layout::new(cfg);
        let mut program = String::new();
        for i in &self.program.instrs {
            program.push_str(&layout.encode(&InstrFields::of(i, &mats)));
            program.push('\n');
        }
        if program.is_empty() {
            program.push_str(&"0".repeat(layout.width.div_ceil(4)));
            program.push('\n');
        }
        files.push(("program.hex".to_string(), program));

        let mut vmem = vec![0i64; cfg.memory.vector_words];
        for (r, data) in &self.program.preloaded {
            vmem[r.base..r.end()].copy_from_slice(data);
        }
        let digits = cfg.value_width.div_ceil(4) as usize;
        let mask = (1u64 << cfg.value_width) - 1;
        // Element e is in bank e % banks, row e / banks (arch::placement);
        // the overlapped machine's parts (one per writer, or two: the words
        // the vector load reads and the rest) each have their own banks,
        // from their first row on (overlap::regions).
        let banks = VectorMemory::new(cfg).banks;
        let parts: Vec<(String, std::ops::Range<usize>)> = if cfg.overlap.units {
            WriterRegions::new(cfg)
                .expect("a validated configuration")
                .banked()
                .iter()
                .enumerate()
                .map(|(q, b)| (format!("vmem_p{q}_"), b.region.base..b.region.end()))
                .collect()
        } else {
            vec![("vmem_".to_string(), 0..vmem.len())]
        };
        for (prefix, range) in parts {
            let part = &vmem[range];
            for b in 0..banks {
                let mut text = String::with_capacity(part.len() / banks * (digits + 1) + 8);
                for v in part.iter().skip(b).step_by(banks) {
                    writeln!(text, "{:0digits$x}", (*v as u64) & mask)
                        .expect("writing to a String");
                }
                if text.is_empty() {
                    writeln!(text, "{:0digits$x}", 0).expect("writing to a String");
                }
                files.push((format!("{prefix}b{b}.hex"), text));
            }
        }

        let lines = matrix_lines(cfg, self.matrices);
        let words: usize = mats.iter().map(|m| m.words).sum();
        for (p, text) in lines.iter().enumerate() {
            let zeros: String = text
                .lines()
                .map(|l| format!("{}\n", "0".repeat(l.len())))
                .collect();
            let (init, load) = match self.matrix_load {
                MatrixLoad::Init => (text.as_str(), None),
                MatrixLoad::Port => (zeros.as_str(), Some(text.as_str())),
            };
            files.push((format!("pe{p}_mat.hex"), init.to_string()));
            if let Some(load) = load {
                files.push((format!("pe{p}_load.hex"), load.to_string()));
            }
        }

        // The host's stream: one line per beat, {tlast, tdata}; element i of
        // a beat in bytes [i * elem_bytes, (i + 1) * elem_bytes). Each
        // vector in the words its load writes (bank-interleaved with
        // `overlap.interleaved`: padding words are zeros).
        let per_beat = cfg.beat_elements();
        let elem_bits = 8 * cfg.value_width.div_ceil(8) as usize;
        let beat_bits = per_beat * elem_bits;
        let mut stream = String::new();
        let mut beats = 0usize;
        for v in self.inputs {
            let v = self.program.host.load_words(v);
            let chunks: Vec<&[i64]> = v.chunks(per_beat).collect();
            for (c, chunk) in chunks.iter().enumerate() {
                let mut beat = HexWord::new(beat_bits + 1);
                for (i, &x) in chunk.iter().enumerate() {
                    beat.put(i * elem_bits, cfg.value_width as usize, x as u64);
                }
                beat.set(beat_bits, c + 1 == chunks.len());
                stream.push_str(&beat.to_hex());
                stream.push('\n');
                beats += 1;
            }
        }
        if stream.is_empty() {
            stream.push_str("0\n");
        }
        files.push(("in.hex".to_string(), stream));

        let mut run = String::new();
        for v in [
            self.program.instrs.len(),
            self.runs,
            (self.matrix_load == MatrixLoad::Port) as usize,
            words,
            beats,
        ] {
            writeln!(run, "{v:08x}").expect("writing to a String");
        }
        files.push(("run.hex".to_string(), run));
        if cfg.overlap.units {
            files.extend(overlap_files(cfg, self.matrices, self.program));
        }
        files
    }
}

/// What the host takes from a run of `program` (`runs` frames) whose
/// stores sent `words` (every store's words in the order sent, as the
/// testbench prints them): each store's words in element order
/// ([`bbs_sim::arch::interleave::HostLayout::store_values`]), as
/// [`bbs_sim::machine::Machine::run`] returns them. Words past the program's stores
/// (or a short last store) are kept as they are, so a count that differs
/// still shows.
pub fn host_outputs(program: &Program, runs: usize, words: &[i64]) -> Vec<i64> {
    if program.host.store.is_none() {
        return words.to_vec();
    }
    let stores: Vec<usize> = program
        .instrs
        .iter()
        .filter_map(|i| match i {
            bbs_sim::isa::Instr::Store { src } => Some(src.len),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(words.len());
    let mut rest = words;
    for len in std::iter::repeat_n(&stores, runs).flatten() {
        if rest.len() < *len {
            break;
        }
        let (store, tail) = rest.split_at(*len);
        out.extend(program.host.store_values(store));
        rest = tail;
    }
    out.extend_from_slice(rest);
    out
}

/// The overlapped machine's issue lists (one per unit) and wait table
/// ([`bbs_sim::overlap::tables`]).
fn overlap_files(cfg: &Config, matrices: &[Csb], program: &Program) -> Vec<(String, String)> {
    use bbs_sim::overlap::access::access;
    use bbs_sim::overlap::tables::{self, MAX_WAITS};
    let acc: Vec<_> = program
        .instrs
        .iter()
        .map(|i| access(cfg, matrices, i))
        .collect();
    let mut files = Vec::new();
    for unit in tables::issue_units(cfg) {
        let mut text = String::new();
        for e in tables::issue_list(*unit, &acc, program) {
            writeln!(text, "{e:04x}").expect("writing to a String");
        }
        files.push((unit.file().to_string(), text));
    }
    let entry = tables::wait_entry_width(cfg);
    let mut text = String::new();
    for i in 0..program.instrs.len().max(1) {
        let mut line = HexWord::new(MAX_WAITS * entry);
        for (k, w) in program.waits.get(i).into_iter().flatten().enumerate() {
            line.put(k * entry, entry, tables::wait_entry(cfg, &acc, i, w));
        }
        text.push_str(&line.to_hex());
        text.push('\n');
    }
    files.push(("waits.hex".to_string(), text));
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbs_compress::{prune_bbs, QFormat};
    use ndarray::Array2;

    fn csb(rows: usize) -> Csb {
        // Row r has distinct, row-identifying values so misplaced rows show up.
        let w = Array2::from_shape_fn((rows, 8), |(r, c)| {
            let v = (r * 8 + c) as f32 / 8.0 - 3.0;
            if (r + c) % 3 == 0 {
                0.0
            } else {
                v
            }
        });
        let p = prune_bbs(&w.view(), 2, 0.5).unwrap();
        Csb::from_pruned(&p, QFormat::new(8, 3).unwrap()).0
    }

    fn cfg(pes: usize) -> Config {
        Config {
            pes,
            banks: 2,
            value_width: 8,
            frac_bits: 3,
            acc_width: 24,
            max_rows: 16,
            max_cols: 8,
            max_slots: 4,
            ..Config::default()
        }
    }

    #[test]
    fn rows_go_to_pe_r_mod_p_and_pes_pad_to_the_same_length() {
        let (c, cfg) = (csb(7), cfg(3));
        assert_eq!(c.slots, 2);
        let lines = matrix_lines(&cfg, std::slice::from_ref(&c));
        assert_eq!(lines.len(), 3);
        let iw = cfg.index_width();
        let zero = pack_word(&[0, 0], &[0, 0], 8, iw);
        for (p, text) in lines.iter().enumerate() {
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(
                lines.len(),
                3 * c.slots,
                "pe {p}: ceil(7 / 3) rows of 2 slots"
            );
            for local in 0..3 {
                let r = local * 3 + p;
                for s in 0..c.slots {
                    let line = lines[local * c.slots + s];
                    if r < c.rows {
                        let (v, i) = c.word(r, s);
                        assert_eq!(line, pack_word(v, i, 8, iw), "pe {p} row {r} slot {s}");
                    } else {
                        assert_eq!(line, zero, "pe {p} pads its missing row");
                    }
                }
            }
        }
    }

    #[test]
    fn a_second_matrix_starts_where_placement_says() {
        let (a, b, cfg) = (csb(7), csb(2), cfg(3));
        let lines = matrix_lines(&cfg, &[a.clone(), b.clone()]);
        let places = placement::place(&cfg, &[a, b.clone()]);
        let iw = cfg.index_width();
        let pe0: Vec<&str> = lines[0].lines().collect();
        let (v, i) = b.word(0, 0);
        assert_eq!(pe0[places[1].base], pack_word(v, i, 8, iw));
        assert_eq!(pe0.len(), places[1].base + places[1].words);
    }

    #[test]
    fn idle_pes_get_zero_lines() {
        let lines = matrix_lines(&cfg(4), &[csb(2)]);
        assert_eq!(lines[3].lines().count(), 2, "one (missing) row of 2 slots");
        assert!(lines[3].lines().all(|l| l.chars().all(|c| c == '0')));
        let empty = matrix_lines(&cfg(2), &[]);
        assert_eq!(empty[0].lines().count(), 1, "never an empty file");
    }
}
