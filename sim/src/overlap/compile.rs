//! The program generator of the overlapped machine: the frame program of a
//! network laid out so that units can work at the same time, and its waits.
//!
//! What changes from the serialized program ([`crate::rnn::Network::program`]):
//! - the first layer's input is loaded straight into the SpMxV's source
//!   vector (no copy);
//! - with `overlap.chaining`, an LSTM's gate rows are reordered in blocks of
//!   cells: block k holds the i, f, o and g rows of cells
//!   `[k * block, (k + 1) * block)`, so the PEs finish a block's four gates
//!   together and the element-wise unit updates those cells while the PEs
//!   go on with the next block. The bias is laid out the same way. The
//!   values are those of the serialized program: only where the gates live
//!   changes. The block size is the one, among a few multiples of
//!   `ewop.lanes`, whose frame is shortest in the cycle model;
//! - every instruction carries its waits ([`super::waits::derive`]).

use super::waits;
use crate::act::ActFn;
use crate::config::Config;
use crate::isa::{EwOp, Instr, Region};
use crate::machine::{Machine, Program};
use crate::rnn::{Layer, Network, NetworkError};
use bbs_compress::Csb;

/// A network ready for the machine: the frame program and the matrices
/// it numbers (rows possibly reordered).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub program: Program,
    pub matrices: Vec<Csb>,
    /// Cells per block of an LSTM's gate rows (the hidden size: one block).
    pub block: usize,
}

/// A bump allocator over the vector memory.
struct Alloc(usize);

impl Alloc {
    fn take(&mut self, len: usize) -> Region {
        let r = Region::new(self.0, len);
        self.0 += len;
        r
    }
}

/// Frames the generator times a candidate program for: the steady state
/// is reached by the third.
const SCORED_FRAMES: usize = 6;

/// The overlapped program of `net` on `cfg` (`overlap.units` on).
pub fn compile(net: &Network, cfg: &Config) -> Result<Compiled, NetworkError> {
    net.check()?;
    let widest = net
        .layers
        .iter()
        .map(|l| match l {
            Layer::Lstm(l) => l.hidden,
            Layer::Gru(g) => g.hidden,
        })
        .max()
        .unwrap_or(1);
    let lanes = cfg.ewop.lanes;
    let mut candidates: Vec<usize> = if cfg.overlap.chaining {
        [lanes / 2, lanes, 2 * lanes, 4 * lanes, 8 * lanes]
            .into_iter()
            .filter(|&b| b >= 1 && b < widest)
            .collect()
    } else {
        vec![]
    };
    candidates.push(widest);
    let mut best: Option<(u64, Compiled)> = None;
    let mut first_err = None;
    for block in candidates {
        let c = match build(net, cfg, block) {
            Ok(c) => c,
            Err(e) => {
                first_err.get_or_insert(e);
                continue;
            }
        };
        let machine = Machine::new(cfg, c.matrices.clone())?;
        if let Err(e) = machine.validate(&c.program) {
            first_err.get_or_insert(e.into());
            continue;
        }
        let steady = *machine
            .frame_cycles(&c.program, SCORED_FRAMES)
            .last()
            .expect("frames scored");
        if best.as_ref().map_or(true, |(b, _)| steady < *b) {
            best = Some((steady, c));
        }
    }
    match best {
        Some((_, c)) => Ok(c),
        None => Err(first_err.expect("at least one candidate was tried")),
    }
}

/// The program with LSTM gate rows in blocks of `block` cells.
fn build(net: &Network, cfg: &Config, block: usize) -> Result<Compiled, NetworkError> {
    let mut a = Alloc(0);
    let mut p = Program::default();
    let mut matrices = Vec::new();
    let ew = |func, a, b, dst| Instr::Ewop { func, a, b, dst };
    let act = |func, src: Region| Instr::Act {
        func,
        src,
        dst: src,
    };
    // Where the next layer reads its input from (`None`: the host, by a load).
    let mut input: Option<Region> = None;
    for layer in &net.layers {
        match layer {
            Layer::Lstm(l) => {
                let n = l.hidden;
                let xh = a.take(l.input + l.output());
                let (x, hout) = (xh.slice(0, l.input), xh.slice(l.input, l.output()));
                let (c, gates, bias) = (a.take(n), a.take(4 * n), a.take(4 * n));
                let (t1, t2) = (a.take(n), a.take(n));
                let hfull = if l.proj.is_some() { a.take(n) } else { hout };
                // Row order: per block, its cells' i, f, o, g rows (PyTorch
                // rows are gate-major: i, f, g, o, each n cells).
                let mut order = Vec::with_capacity(4 * n);
                for c0 in (0..n).step_by(block) {
                    let m = block.min(n - c0);
                    for gate in [0, 1, 3, 2] {
                        order.extend((c0..c0 + m).map(|j| gate * n + j));
                    }
                }
                p.preloaded.push((hout, vec![0; l.output()]));
                p.preloaded.push((c, vec![0; n]));
                p.preloaded
                    .push((bias, order.iter().map(|&r| l.bias[r]).collect()));
                match input {
                    None => p.instrs.push(Instr::Load { dst: x }),
                    Some(prev) => p.instrs.push(ew(EwOp::Copy, prev, prev, x)),
                }
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len(),
                    src: xh,
                    dst: gates,
                });
                matrices.push(l.w.select_rows(&order));
                for c0 in (0..n).step_by(block) {
                    let m = block.min(n - c0);
                    let g = gates.slice(4 * c0, 4 * m);
                    let (gi, gf, go, gg) = (
                        g.slice(0, m),
                        g.slice(m, m),
                        g.slice(2 * m, m),
                        g.slice(3 * m, m),
                    );
                    let (ck, t1k, t2k) = (c.slice(c0, m), t1.slice(c0, m), t2.slice(c0, m));
                    p.instrs
                        .push(ew(EwOp::Add, g, bias.slice(4 * c0, 4 * m), g));
                    p.instrs.push(act(ActFn::Sigmoid, g.slice(0, 3 * m)));
                    p.instrs.push(act(ActFn::Tanh, gg));
                    p.instrs.push(ew(EwOp::Mul, gf, ck, t1k));
                    p.instrs.push(ew(EwOp::Mul, gi, gg, t2k));
                    p.instrs.push(ew(EwOp::Add, t1k, t2k, ck));
                    p.instrs.push(Instr::Act {
                        func: ActFn::Tanh,
                        src: ck,
                        dst: t1k,
                    });
                    p.instrs.push(ew(EwOp::Mul, go, t1k, hfull.slice(c0, m)));
                }
                if let Some(proj) = &l.proj {
                    p.instrs.push(Instr::Spmv {
                        matrix: matrices.len(),
                        src: hfull,
                        dst: hout,
                    });
                    matrices.push(proj.clone());
                }
                input = Some(hout);
            }
            Layer::Gru(g) => {
                let hn = g.hidden;
                let (x, hs) = (a.take(g.input), a.take(hn));
                let (gi, gh, bi, bh) = (
                    a.take(3 * hn),
                    a.take(3 * hn),
                    a.take(3 * hn),
                    a.take(3 * hn),
                );
                let t = a.take(hn);
                p.preloaded.push((hs, vec![0; hn]));
                p.preloaded.push((bi, g.b_ih.clone()));
                p.preloaded.push((bh, g.b_hh.clone()));
                let rz = gi.slice(0, 2 * hn);
                let (r, z, gi_n, gh_n) = (
                    gi.slice(0, hn),
                    gi.slice(hn, hn),
                    gi.slice(2 * hn, hn),
                    gh.slice(2 * hn, hn),
                );
                match input {
                    None => p.instrs.push(Instr::Load { dst: x }),
                    Some(prev) => p.instrs.push(ew(EwOp::Copy, prev, prev, x)),
                }
                // The recurrent product first: it needs only last frame's
                // state, so it can run while this frame's input arrives.
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len() + 1,
                    src: hs,
                    dst: gh,
                });
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len(),
                    src: x,
                    dst: gi,
                });
                matrices.push(g.w_ih.clone());
                matrices.push(g.w_hh.clone());
                p.instrs.push(ew(EwOp::Add, gh, bh, gh));
                p.instrs.push(ew(EwOp::Add, gi, bi, gi));
                p.instrs.push(ew(EwOp::Add, rz, gh.slice(0, 2 * hn), rz));
                p.instrs.push(act(ActFn::Sigmoid, rz));
                p.instrs.push(ew(EwOp::Mul, r, gh_n, t));
                p.instrs.push(ew(EwOp::Add, gi_n, t, gi_n));
                p.instrs.push(act(ActFn::Tanh, gi_n));
                p.instrs.push(ew(EwOp::Sub, hs, gi_n, t));
                p.instrs.push(ew(EwOp::Mul, z, t, t));
                p.instrs.push(ew(EwOp::Add, gi_n, t, hs));
                input = Some(hs);
            }
        }
    }
    let out = input.expect("a checked network has layers");
    p.instrs.push(Instr::Store { src: out });
    if a.0 > cfg.memory.vector_words {
        return Err(NetworkError::VectorMemory {
            need: a.0,
            have: cfg.memory.vector_words,
        });
    }
    if p.instrs.len() > cfg.memory.instruction_words {
        return Err(NetworkError::Program(
            crate::machine::ProgramError::Program(format!(
                "{} instructions do not fit the instruction buffer ({}, memory.instruction_words)",
                p.instrs.len(),
                cfg.memory.instruction_words
            )),
        ));
    }
    let probe = Machine::new(cfg, matrices.clone())?;
    p.waits = waits::derive(
        &probe.accesses(&p),
        cfg.memory.vector_words,
        cfg.overlap.chaining,
    );
    Ok(Compiled {
        program: p,
        matrices,
        block,
    })
}
