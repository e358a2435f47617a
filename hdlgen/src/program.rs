//! The instruction word of the generated controller, and the files one run of
//! a program needs: the instruction buffer (`program.hex`), the vector
//! memory's initial contents (`vmem_b<b>.hex`, one file per bank), the matrix memories
//! (`pe<p>_mat.hex`, or `pe<p>_load.hex` for the testbench to write through the
//! run-time load port), the host's input stream (`in.hex`) and the run's
//! parameters (`run.hex`).
//!
//! Instruction fields, least significant first (widths from the configuration):
//!
//! | field | bits | load | store | spmv | ewop | act |
//! |---|---|---|---|---|---|---|
//! | `op` | 3 | 0 | 1 | 2 | 3 | 4 |
//! | `func` | 2 | | | | add 0, sub 1, mul 2, copy 3 | sigmoid 0, tanh 1 |
//! | `a` | vector address | | src base | src base | a base | src base |
//! | `b` | vector address | | | | b base | |
//! | `d` | vector address | dst base | | dst base | dst base | dst base |
//! | `len` | vector length | len | len | src len (columns) | len | len |
//! | `rows` | rows | | | dst len (rows) | | |
//! | `slots` | slots | | | nonzeros per bank | | |
//! | `bank` | bank size | | | columns per bank | | |
//! | `mat` | matrix address | | | first word in every PE's matrix memory | | |
//!
//! Matrices share each PE's matrix memory one after another, in program
//! order (as `bbs_sim::Machine` checks): matrix `m` starts at the sum of
//! `ceil(rows / pes) * slots` of the ones before it.

use bbs_compress::{hex::pack_word, write_bytes_atomic, Csb};
use bbs_sim::act::ActFn;
use bbs_sim::arith::clog2;
use bbs_sim::isa::{EwOp, Instr};
use bbs_sim::machine::Program;
use bbs_sim::Config;
use bitvec::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// One field of the instruction word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lsb: u64,
    pub width: u64,
}

impl Field {
    /// The Verilog part-select, e.g. `[12:5]`.
    pub fn range(&self) -> String {
        format!("[{}:{}]", self.lsb + self.width - 1, self.lsb)
    }
}

pub struct Layout {
    pub fields: Vec<Field>,
    pub width: u64,
}

pub const OP_LOAD: u64 = 0;
pub const OP_STORE: u64 = 1;
pub const OP_SPMV: u64 = 2;
pub const OP_EWOP: u64 = 3;
pub const OP_ACT: u64 = 4;

impl Layout {
    pub fn new(cfg: &Config) -> Layout {
        let vaddr = clog2(cfg.memory.vector_words) as u64;
        let widths = [
            ("op", 3),
            ("func", 2),
            ("a", vaddr),
            ("b", vaddr),
            ("d", vaddr),
            ("len", clog2(cfg.memory.vector_words + 1) as u64),
            ("rows", clog2(cfg.max_rows + 1) as u64),
            ("slots", clog2(cfg.max_slots + 1) as u64),
            ("bank", cfg.index_width() as u64 + 1),
            ("mat", clog2(cfg.matrix_depth()) as u64),
        ];
        let mut lsb = 0;
        let fields = widths
            .iter()
            .map(|&(name, width)| {
                let f = Field { name, lsb, width };
                lsb += width;
                f
            })
            .collect();
        Layout { fields, width: lsb }
    }

    fn field(&self, name: &str) -> &Field {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .expect("a known field")
    }

    /// The instruction as `width` bits, hex, most significant digit first.
    pub fn encode(&self, instr: &Instr, mats: &[Placement]) -> String {
        let mut bits = bitvec![u64, Lsb0; 0; self.width as usize];
        let mut put = |name: &str, v: u64| {
            let f = self.field(name);
            debug_assert!(f.width >= 64 || v >> f.width == 0, "{name} = {v} overflows");
            bits[f.lsb as usize..(f.lsb + f.width) as usize].store_le(v);
        };
        match *instr {
            Instr::Load { dst } => {
                put("op", OP_LOAD);
                put("d", dst.base as u64);
                put("len", dst.len as u64);
            }
            Instr::Store { src } => {
                put("op", OP_STORE);
                put("a", src.base as u64);
                put("len", src.len as u64);
            }
            Instr::Spmv { matrix, src, dst } => {
                let m = &mats[matrix];
                put("op", OP_SPMV);
                put("a", src.base as u64);
                put("d", dst.base as u64);
                put("len", src.len as u64);
                put("rows", dst.len as u64);
                put("slots", m.slots as u64);
                put("bank", m.bank_size as u64);
                put("mat", m.base as u64);
            }
            Instr::Ewop { func, a, b, dst } => {
                put("op", OP_EWOP);
                put(
                    "func",
                    match func {
                        EwOp::Add => 0,
                        EwOp::Sub => 1,
                        EwOp::Mul => 2,
                        EwOp::Copy => 3,
                    },
                );
                put("a", a.base as u64);
                if func != EwOp::Copy {
                    put("b", b.base as u64);
                }
                put("d", dst.base as u64);
                put("len", dst.len as u64);
            }
            Instr::Act { func, src, dst } => {
                put("op", OP_ACT);
                put(
                    "func",
                    match func {
                        ActFn::Sigmoid => 0,
                        ActFn::Tanh => 1,
                    },
                );
                put("a", src.base as u64);
                put("d", dst.base as u64);
                put("len", dst.len as u64);
            }
        }
        hex_digits(&bits)
    }
}

fn hex_digits(bits: &BitSlice<u64, Lsb0>) -> String {
    let digits = bits.len().div_ceil(4);
    (0..digits)
        .rev()
        .map(|d| {
            let end = (4 * d + 4).min(bits.len());
            let nibble: u8 = bits[4 * d..end].load_le();
            char::from_digit(nibble as u32, 16).expect("a nibble")
        })
        .collect()
}

/// Where a matrix lives in every PE's matrix memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub base: usize,
    pub words: usize,
    pub slots: usize,
    pub bank_size: usize,
}

pub fn place(cfg: &Config, matrices: &[Csb]) -> Vec<Placement> {
    let mut base = 0;
    matrices
        .iter()
        .map(|m| {
            let words = m.rows.div_ceil(cfg.pes) * m.slots;
            let p = Placement {
                base,
                words,
                slots: m.slots,
                bank_size: m.bank_size,
            };
            base += words;
            p
        })
        .collect()
}

/// Each PE's matrix-memory lines: every matrix's rows `p, p + pes, ...`,
/// padded with zero words to `ceil(rows / pes) * slots` so all PEs agree on
/// where the next matrix starts. At least one line.
pub fn matrix_lines(cfg: &Config, matrices: &[Csb]) -> Vec<String> {
    let (k, w, iw) = (cfg.banks, cfg.value_width, cfg.index_width());
    let zero = pack_word(&vec![0; k], &vec![0; k], w, iw);
    (0..cfg.pes)
        .map(|p| {
            let mut text = String::new();
            for m in matrices {
                for local in 0..m.rows.div_ceil(cfg.pes) {
                    let r = local * cfg.pes + p;
                    for s in 0..m.slots {
                        if r < m.rows {
                            let (values, indices) = m.word(r, s);
                            text.push_str(&pack_word(values, indices, w, iw));
                        } else {
                            text.push_str(&zero);
                        }
                        text.push('\n');
                    }
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
    /// Every vector the host sends, in order (all `load`s of all runs).
    pub inputs: &'a [Vec<i64>],
    /// How many times the testbench starts the program (frames).
    pub runs: usize,
    pub matrix_load: MatrixLoad,
}

impl RunFiles<'_> {
    /// Write the files into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), bbs_compress::Error> {
        let cfg = self.cfg;
        std::fs::create_dir_all(dir)
            .map_err(|e| bbs_compress::Error::io(dir, "cannot create directory", e))?;
        let mats = place(cfg, self.matrices);
        let layout = Layout::new(cfg);
        let mut program = String::new();
        for i in &self.program.instrs {
            program.push_str(&layout.encode(i, &mats));
            program.push('\n');
        }
        if program.is_empty() {
            program.push_str(&"0".repeat(layout.width.div_ceil(4) as usize));
            program.push('\n');
        }
        write_bytes_atomic(&dir.join("program.hex"), program.as_bytes())?;

        let mut vmem = vec![0i64; cfg.memory.vector_words];
        for (r, data) in &self.program.preloaded {
            vmem[r.base..r.end()].copy_from_slice(data);
        }
        let digits = cfg.value_width.div_ceil(4) as usize;
        let mask = (1u64 << cfg.value_width) - 1;
        // Element e is in bank e % banks, row e / banks (templates/bbs_vmem.v).
        let banks = cfg.vector_banks();
        for b in 0..banks {
            let mut text = String::with_capacity(vmem.len() / banks * (digits + 1) + 8);
            for v in vmem.iter().skip(b).step_by(banks) {
                writeln!(text, "{:0digits$x}", (*v as u64) & mask).expect("writing to a String");
            }
            if text.is_empty() {
                writeln!(text, "{:0digits$x}", 0).expect("writing to a String");
            }
            write_bytes_atomic(&dir.join(format!("vmem_b{b}.hex")), text.as_bytes())?;
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
            write_bytes_atomic(&dir.join(format!("pe{p}_mat.hex")), init.as_bytes())?;
            if let Some(load) = load {
                write_bytes_atomic(&dir.join(format!("pe{p}_load.hex")), load.as_bytes())?;
            }
        }

        // The host's stream: one line per beat, {tlast, tdata}; element i of
        // a beat in bytes [i * elem_bytes, (i + 1) * elem_bytes).
        let per_beat = cfg.beat_elements();
        let elem_bits = 8 * cfg.value_width.div_ceil(8) as usize;
        let beat_bits = per_beat * elem_bits;
        let mut stream = String::new();
        let mut beats = 0usize;
        for v in self.inputs {
            let chunks: Vec<&[i64]> = v.chunks(per_beat).collect();
            for (c, chunk) in chunks.iter().enumerate() {
                let mut bits = bitvec![u64, Lsb0; 0; beat_bits + 1];
                for (i, &x) in chunk.iter().enumerate() {
                    bits[i * elem_bits..i * elem_bits + cfg.value_width as usize]
                        .store_le((x as u64) & mask);
                }
                bits.set(beat_bits, c + 1 == chunks.len());
                stream.push_str(&hex_digits(&bits));
                stream.push('\n');
                beats += 1;
            }
        }
        if stream.is_empty() {
            stream.push_str("0\n");
        }
        write_bytes_atomic(&dir.join("in.hex"), stream.as_bytes())?;

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
        write_bytes_atomic(&dir.join("run.hex"), run.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbs_sim::isa::Region;

    #[test]
    fn fields_tile_the_word() {
        let cfg = Config::default();
        let l = Layout::new(&cfg);
        let mut next = 0;
        for f in &l.fields {
            assert_eq!(f.lsb, next, "{}", f.name);
            next += f.width;
        }
        assert_eq!(next, l.width);
        // default: 16384-word vector memory -> 14-bit addresses, 15-bit lengths.
        assert_eq!(l.field("a").width, 14);
        assert_eq!(l.field("len").width, 15);
    }

    #[test]
    fn encodes_fields_where_the_layout_says() {
        let cfg = Config::default();
        let l = Layout::new(&cfg);
        let load = Instr::Load {
            dst: Region::new(3, 5),
        };
        let hex = l.encode(&load, &[]);
        let v = u128::from_str_radix(&hex, 16).unwrap();
        let get = |name: &str| {
            let f = l.field(name);
            (v >> f.lsb) & ((1u128 << f.width) - 1)
        };
        assert_eq!(get("op"), OP_LOAD as u128);
        assert_eq!(get("d"), 3);
        assert_eq!(get("len"), 5);
        assert_eq!(get("a"), 0);
        assert_eq!(hex.len() as u64, l.width.div_ceil(4));
    }
}
