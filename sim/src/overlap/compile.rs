//! The program generator of the overlapped machine: the frame program of a
//! network laid out so that units can work at the same time, and its waits.
//!
//! What changes from the serialized program ([`crate::rnn::Network::program`]):
//! - the first layer's input is loaded straight into the SpMxV's source
//!   vector, and a later layer's `W_ih` reads the layer below's output
//!   where it is (no copies);
//! - an LSTM's cell update runs in place in its gate region, and a GRU's
//!   gates and temporaries get regions of their own, so that the next
//!   frame's products may overwrite `W_ih x` and `W_hh h` as soon as this
//!   frame has read them;
//! - with `overlap.chaining`, an LSTM's gate rows are reordered in blocks of
//!   cells: block k holds the i, f, o and g rows of cells
//!   `[k * block, (k + 1) * block)`, so the PEs finish a block's four gates
//!   together and the element-wise unit updates those cells while the PEs
//!   go on with the next block. The bias is laid out the same way. The
//!   values are those of the serialized program: only where the gates live
//!   changes. The block size is the one, among a few multiples of
//!   `ewop.lanes`, whose frame is shortest in the cycle model;
//! - with `overlap.input_ahead`, the first layer's input part (the input
//!   load, `W_ih x` and its bias) is issued a frame ahead ([`Issue`]): the
//!   PE array computes the next frame's `W_ih x` while this frame's cells
//!   finish, in two pieces when the layer has a projection (rows before the
//!   projection fill the gap while the cells finish; the rest fill the one
//!   while the projection's result is loaded for the next `W_hh h`). The
//!   split is the one, among a few, whose frame is shortest;
//! - every instruction carries its waits ([`super::waits::derive`]).

use super::{waits, Issue};
use crate::act::ActFn;
use crate::config::Config;
use crate::isa::{EwOp, Instr, Region};
use crate::machine::{Machine, Program};
use crate::rnn::{lstm_cell, Layer, Network, NetworkError};
use bbs_compress::Csb;

/// A network ready for the machine: the frame program and the matrices
/// it numbers (rows possibly reordered).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub program: Program,
    pub matrices: Vec<Csb>,
    /// Cells per block of an LSTM's gate rows (the hidden size: one block).
    pub block: usize,
    /// For each matrix, the number of the network's matrix
    /// ([`Network::matrices`]) its rows come from.
    pub source: Vec<usize>,
}

/// How a candidate program is laid out.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Cells per block of an LSTM's gate rows.
    block: usize,
    /// With `overlap.input_ahead` and a projection in the first layer: how
    /// many rows (in block order) of the next frame's `W_ih x` the PE array
    /// takes before this frame's projection; the rest come after it.
    rows_before_proj: usize,
}

/// Where an instruction of the next frame issues.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    /// After the first layer's cell update, before its projection.
    BeforeProj,
    /// After the first layer's projection (or cell update, without one).
    AfterProj,
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
    let mut blocks: Vec<usize> = if cfg.overlap.chaining {
        [lanes / 2, lanes, 2 * lanes, 4 * lanes, 8 * lanes]
            .into_iter()
            .filter(|&b| b >= 1 && b < widest)
            .collect()
    } else {
        vec![]
    };
    blocks.push(widest);
    // First the block size (the whole input part before the projection),
    // then where the input part splits around the projection.
    let mut search = Search::default();
    for &block in &blocks {
        search.try_layout(
            net,
            cfg,
            Layout {
                block,
                rows_before_proj: usize::MAX,
            },
        );
    }
    if let (true, Some(Layer::Lstm(l)), Some(layout)) = (
        cfg.overlap.input_ahead,
        net.layers.first(),
        search.best_layout(),
    ) {
        if l.proj.is_some() {
            let per_pe = (4 * l.hidden).div_ceil(cfg.pes);
            for eighths in 0..8 {
                let rows_before_proj = per_pe * eighths / 8 * cfg.pes;
                search.try_layout(
                    net,
                    cfg,
                    Layout {
                        rows_before_proj,
                        ..layout
                    },
                );
            }
        }
    }
    search.finish(cfg)
}

/// The candidates scored so far (the cycle model only: validating each
/// would cost more than building it), and the first error.
#[derive(Default)]
struct Search {
    scored: Vec<(u64, Layout, Compiled)>,
    first_err: Option<NetworkError>,
}

impl Search {
    fn try_layout(&mut self, net: &Network, cfg: &Config, layout: Layout) {
        match score(net, cfg, layout) {
            Ok((steady, c)) => self.scored.push((steady, layout, c)),
            Err(e) => {
                self.first_err.get_or_insert(e);
            }
        }
    }
    fn best_layout(&self) -> Option<Layout> {
        self.scored
            .iter()
            .min_by_key(|(steady, _, _)| *steady)
            .map(|(_, l, _)| *l)
    }
    /// The shortest candidate that validates (the first tried among equals).
    fn finish(mut self, cfg: &Config) -> Result<Compiled, NetworkError> {
        self.scored.sort_by_key(|(steady, _, _)| *steady);
        for (_, _, c) in self.scored {
            let machine = Machine::new(cfg, c.matrices.clone())?;
            match machine.validate(&c.program) {
                Ok(()) => return Ok(c),
                Err(e) => {
                    self.first_err.get_or_insert(e.into());
                }
            }
        }
        Err(self.first_err.expect("at least one layout was tried"))
    }
}

/// A candidate's program and its steady-state frame in the cycle model.
fn score(net: &Network, cfg: &Config, layout: Layout) -> Result<(u64, Compiled), NetworkError> {
    let c = build(net, cfg, layout)?;
    let machine = Machine::new(cfg, c.matrices.clone())?;
    let steady = *machine
        .frame_cycles(&c.program, SCORED_FRAMES)
        .last()
        .expect("frames scored");
    Ok((steady, c))
}

/// The program with LSTM gate rows in blocks of `block` cells.
fn build(net: &Network, cfg: &Config, layout: Layout) -> Result<Compiled, NetworkError> {
    let block = layout.block;
    let mut a = Alloc(0);
    // The instructions of the first layer's input part (issued a frame
    // ahead with `overlap.input_ahead`), and where they issue: before the
    // program index `tail_end` or `proj_end`.
    let mut ahead: Vec<(usize, Slot)> = Vec::new();
    let (mut tail_end, mut proj_end) = (None, None);
    let mut source = Vec::new();
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
                let first = input.is_none();
                let x = match input {
                    Some(prev) => prev,
                    None => a.take(l.input),
                };
                let hout = a.take(l.output());
                let (c, gates, gx, bias) = (a.take(n), a.take(4 * n), a.take(4 * n), a.take(4 * n));
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
                // The input part: the first layer's may run a frame ahead,
                // split around the projection.
                let m0 = source.len();
                let ahead_on = first && cfg.overlap.input_ahead;
                let split = if ahead_on && l.proj.is_some() {
                    layout.rows_before_proj.min(4 * n)
                } else {
                    4 * n
                };
                let slot = |rows_from: usize| {
                    if rows_from < split {
                        Slot::BeforeProj
                    } else {
                        Slot::AfterProj
                    }
                };
                let mut input_part = Vec::new();
                if first {
                    input_part.push((p.instrs.len(), Slot::BeforeProj));
                    p.instrs.push(Instr::Load { dst: x });
                }
                for (from, rows) in [(0, split), (split, 4 * n - split)] {
                    if rows == 0 {
                        continue;
                    }
                    input_part.push((p.instrs.len(), slot(from)));
                    p.instrs.push(Instr::Spmv {
                        matrix: matrices.len(),
                        src: x,
                        dst: gx.slice(from, rows),
                    });
                    matrices.push(l.w_ih.select_rows(&order[from..from + rows]));
                    source.push(m0);
                }
                input_part.push((p.instrs.len(), slot(4 * n)));
                p.instrs.push(ew(EwOp::Add, gx, bias, gx));
                if ahead_on {
                    ahead.extend(input_part);
                }
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len(),
                    src: hout,
                    dst: gates,
                });
                matrices.push(l.w_hh.select_rows(&order));
                source.push(m0 + 1);
                for c0 in (0..n).step_by(block) {
                    let m = block.min(n - c0);
                    let g = gates.slice(4 * c0, 4 * m);
                    let (gi, gf, go, gg) = (
                        g.slice(0, m),
                        g.slice(m, m),
                        g.slice(2 * m, m),
                        g.slice(3 * m, m),
                    );
                    p.instrs.push(ew(EwOp::Add, g, gx.slice(4 * c0, 4 * m), g));
                    p.instrs.extend(lstm_cell(
                        gi,
                        gf,
                        gg,
                        go,
                        c.slice(c0, m),
                        Some(g.slice(0, 3 * m)),
                    ));
                    p.instrs.push(ew(EwOp::Mul, go, gg, hfull.slice(c0, m)));
                }
                if first {
                    tail_end = Some(p.instrs.len());
                }
                if let Some(proj) = &l.proj {
                    p.instrs.push(Instr::Spmv {
                        matrix: matrices.len(),
                        src: hfull,
                        dst: hout,
                    });
                    matrices.push(proj.clone());
                    source.push(m0 + 2);
                }
                if first {
                    proj_end = Some(p.instrs.len());
                }
                input = Some(hout);
            }
            Layer::Gru(g) => {
                let hn = g.hidden;
                let first = input.is_none();
                let x = match input {
                    Some(prev) => prev,
                    None => a.take(g.input),
                };
                let hs = a.take(hn);
                let (gx, gh, bi, bh) = (
                    a.take(3 * hn),
                    a.take(3 * hn),
                    a.take(3 * hn),
                    a.take(3 * hn),
                );
                // Gates and temporaries of their own: the next frame's
                // products may replace gx and gh as soon as this frame has
                // read them.
                let (rz, t, t2) = (a.take(2 * hn), a.take(hn), a.take(hn));
                p.preloaded.push((hs, vec![0; hn]));
                p.preloaded.push((bi, g.b_ih.clone()));
                p.preloaded.push((bh, g.b_hh.clone()));
                let (gx_rz, gx_n) = (gx.slice(0, 2 * hn), gx.slice(2 * hn, hn));
                let (gh_rz, gh_n) = (gh.slice(0, 2 * hn), gh.slice(2 * hn, hn));
                let (r, z) = (rz.slice(0, hn), rz.slice(hn, hn));
                // The recurrent product first: it needs only last frame's
                // state, so it can run while this frame's input arrives.
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len() + 1,
                    src: hs,
                    dst: gh,
                });
                let input_part = p.instrs.len();
                if first {
                    p.instrs.push(Instr::Load { dst: x });
                }
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len(),
                    src: x,
                    dst: gx,
                });
                // The recurrent bias first: the element-wise unit takes its
                // instructions in order, and W_hh h is done first.
                p.instrs.push(ew(EwOp::Add, gh, bh, gh));
                let bias_add = p.instrs.len();
                p.instrs.push(ew(EwOp::Add, gx, bi, gx));
                if first && cfg.overlap.input_ahead {
                    ahead.extend(
                        (input_part..bias_add - 1)
                            .chain([bias_add])
                            .map(|i| (i, Slot::AfterProj)),
                    );
                }
                let m0 = source.len();
                matrices.push(g.w_ih.clone());
                matrices.push(g.w_hh.clone());
                source.extend([m0, m0 + 1]);
                // The values of the serialized program (crate::rnn).
                p.instrs.push(ew(EwOp::Add, gx_rz, gh_rz, rz));
                p.instrs.push(act(ActFn::Sigmoid, rz));
                p.instrs.push(ew(EwOp::Mul, r, gh_n, t));
                p.instrs.push(ew(EwOp::Add, gx_n, t, t));
                p.instrs.push(act(ActFn::Tanh, t));
                p.instrs.push(ew(EwOp::Sub, hs, t, t2));
                p.instrs.push(ew(EwOp::Mul, z, t2, t2));
                p.instrs.push(ew(EwOp::Add, t, t2, hs));
                if first {
                    (tail_end, proj_end) = (Some(p.instrs.len()), Some(p.instrs.len()));
                }
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
    if let (false, Some(tail_end), Some(proj_end)) = (ahead.is_empty(), tail_end, proj_end) {
        let at = |slot| match slot {
            Slot::BeforeProj => tail_end,
            Slot::AfterProj => proj_end,
        };
        for i in 0..=p.instrs.len() {
            for &(j, slot) in &ahead {
                if at(slot) == i {
                    p.issue.push(Issue {
                        instr: j,
                        next_frame: true,
                    });
                }
            }
            if i < p.instrs.len() && !ahead.iter().any(|&(j, _)| j == i) {
                p.issue.push(Issue {
                    instr: i,
                    next_frame: false,
                });
            }
        }
    }
    p.waits = waits::derive(
        &probe.accesses(&p),
        cfg.memory.vector_words,
        cfg.overlap.chaining,
        &p.issue,
    );
    Ok(Compiled {
        program: p,
        matrices,
        block,
        source,
    })
}
