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

use super::regions::{Writer, WriterRegions};
use super::{waits, Issue};
use crate::act::ActFn;
use crate::arch::{Interleave, VectorMemory};
use crate::config::{Config, RegionWords};
use crate::isa::{EwOp, Instr, Region};
use crate::machine::{Machine, Program, ProgramError};
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
    /// For each matrix, the number of the network's matrix
    /// ([`Network::matrices`]) its rows come from.
    pub source: Vec<usize>,
    /// Words each writer's part holds of what that writer writes
    /// ([`super::regions`]), in address order (the overlapped machine's
    /// programs only).
    pub written: Vec<(Writer, usize)>,
    /// Of `written`, the words the SpMxVs load (at the start of each part).
    pub loaded: Vec<(Writer, usize)>,
    /// Words of constants (biases), placed where there was room.
    pub constants: usize,
}

/// `cfg` with a vector memory split that holds `net`'s overlapped program:
/// `cfg`'s own split when it does, else each writer's part just large
/// enough (in whole bank rows; the constants in the EWOP part) and
/// `memory.vector_words` their sum; and, unless `cfg` sets
/// `overlap.loadable`, the vector load reading just the words the program
/// loads; and an instruction buffer no larger than the program needs (its
/// length in a power of two, at least 16). So the estimate is that of the
/// machine the program needs. The ablation and the sweep schedule
/// the overlapped machine this way, since writing every region from one
/// unit takes more words than the serialized program's in-place updates.
pub fn fit_memory(net: &Network, cfg: &Config) -> Result<Config, NetworkError> {
    let rows = VectorMemory::new(cfg).banks;
    let in_rows = |n: usize| n.max(1).div_ceil(rows) * rows;
    let of =
        |v: &[(Writer, usize)], w: Writer| v.iter().find(|(x, _)| *x == w).map_or(0, |(_, n)| *n);
    // The words the vector load reads: what the program loads, in whole
    // bank rows (or the whole part).
    let loadable = |c: &Compiled, parts: &RegionWords| {
        let fit = |w: Writer, part: usize| (of(&c.loaded, w).div_ceil(rows) * rows).min(part);
        RegionWords {
            dma: fit(Writer::DmaIn, parts.dma),
            pe: fit(Writer::Pe, parts.pe),
            act: if cfg.overlap.act_unit {
                fit(Writer::Act, parts.act)
            } else {
                0
            },
            ewop: fit(Writer::Elementwise, parts.ewop),
        }
    };
    // The instruction buffer: the program's length, in a power of two.
    let instructions = |c: &Compiled, fitted: &mut Config| {
        let n = c.program.instrs.len().next_power_of_two().max(16);
        fitted.memory.instruction_words = fitted.memory.instruction_words.min(n);
    };
    match compile(net, cfg) {
        Ok(c) => {
            let mut fitted = cfg.clone();
            instructions(&c, &mut fitted);
            // The interleaved vector load reads every word (a run port).
            if cfg.overlap.loadable.is_none() && !cfg.overlap.interleaved {
                let parts = WriterRegions::new(cfg).map_err(ProgramError::from)?;
                let words = |w: Writer| parts.of(w).map_or(0, |r| r.len);
                let sizes = RegionWords {
                    dma: words(Writer::DmaIn),
                    pe: words(Writer::Pe),
                    act: words(Writer::Act),
                    ewop: words(Writer::Elementwise),
                };
                fitted.overlap.loadable = Some(loadable(&c, &sizes));
            }
            return Ok(fitted);
        }
        Err(
            NetworkError::WriterPart { .. }
            | NetworkError::Constant { .. }
            | NetworkError::LoadPart { .. },
        ) => {}
        Err(e) => return Err(e),
    }
    let mut roomy = cfg.clone();
    roomy.overlap.regions = None;
    roomy.overlap.loadable = None;
    // Far more than any writer's part needs: every matrix's rows and
    // columns sixteen times over.
    let dims: usize = net.matrices().iter().map(|m| m.rows + m.cols).sum();
    roomy.memory.vector_words = (16 * dims).next_power_of_two().clamp(1 << 12, 1 << 24);
    let c = compile(net, &roomy)?;
    let words = |w: Writer| {
        let n = of(&c.written, w);
        let n = if w == Writer::Elementwise {
            n + c.constants
        } else {
            n
        };
        in_rows(n)
    };
    let regions = RegionWords {
        dma: words(Writer::DmaIn),
        pe: words(Writer::Pe),
        act: if cfg.overlap.act_unit {
            words(Writer::Act)
        } else {
            0
        },
        ewop: words(Writer::Elementwise),
    };
    let mut fitted = cfg.clone();
    fitted.memory.vector_words = regions.dma + regions.pe + regions.act + regions.ewop;
    fitted.overlap.regions = Some(regions);
    if !cfg.overlap.interleaved {
        fitted.overlap.loadable = Some(loadable(&c, &regions));
    }
    instructions(&c, &mut fitted);
    fitted.validate().map_err(ProgramError::from)?;
    Ok(fitted)
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

/// Where a network's regions go: each in the part of the vector memory its
/// writer owns ([`super::regions`]): first the vectors the SpMxVs load (the
/// words the vector load reads), then the rest, bottom up; the constants
/// (biases) where there is room once the rest is placed, top down. The
/// loaded words of a part are only known at the end, so the rest is laid
/// out at virtual addresses until [`Alloc::place`] moves it past them.
struct Alloc {
    parts: WriterRegions,
    /// Words each part gives the vectors the SpMxVs load, from its start.
    loaded: Vec<usize>,
    /// Words each part gives the rest, after its loaded words (may pass its
    /// end: the overflow is reported by [`Alloc::place`]).
    used: Vec<usize>,
    /// Lengths of the constants, at virtual addresses from [`VIRTUAL`] on
    /// until they are placed.
    constants: Vec<usize>,
    /// Writes the ACT instructions (the ACT lanes, or the EWOP lanes).
    act: Writer,
}

/// Where constants sit until [`Alloc::place`] gives them addresses: past
/// any vector memory.
const VIRTUAL: usize = 1 << 40;
/// Where part `k`'s words that are not loaded sit until [`Alloc::place`]:
/// from `REST + k * REST_SPAN` on.
const REST: usize = 1 << 48;
const REST_SPAN: usize = 1 << 40;

impl Alloc {
    fn new(cfg: &Config) -> Result<Alloc, NetworkError> {
        let parts = WriterRegions::new(cfg).map_err(ProgramError::from)?;
        Ok(Alloc {
            loaded: vec![0; parts.parts.len()],
            used: vec![0; parts.parts.len()],
            parts,
            constants: Vec::new(),
            act: if cfg.overlap.act_unit {
                Writer::Act
            } else {
                Writer::Elementwise
            },
        })
    }
    /// A region `w` writes and nothing loads.
    fn take(&mut self, w: Writer, len: usize) -> Region {
        let k = self.part(w);
        let r = Region::new(REST + k * REST_SPAN + self.used[k], len);
        self.used[k] += len;
        r
    }
    /// A region `w` writes (or the host, for the DMA in) that an SpMxV loads.
    fn take_loaded(&mut self, w: Writer, len: usize) -> Region {
        let k = self.part(w);
        let r = Region::new(self.parts.parts[k].1.base + self.loaded[k], len);
        self.loaded[k] += len;
        r
    }
    fn part(&self, w: Writer) -> usize {
        self.parts
            .parts
            .iter()
            .position(|(x, _)| *x == w)
            .expect("every writer of the configuration has a part")
    }
    fn constant(&mut self, len: usize) -> Region {
        let r = Region::new(VIRTUAL + self.constants.iter().sum::<usize>(), len);
        self.constants.push(len);
        r
    }
    /// Words each writer's part needs: what it writes, by writer.
    fn needs(&self) -> Vec<(Writer, usize)> {
        self.parts
            .parts
            .iter()
            .enumerate()
            .map(|(k, (w, _))| (*w, self.loaded[k] + self.used[k]))
            .collect()
    }
    /// Of [`Alloc::needs`], the words the SpMxVs load.
    fn loads(&self) -> Vec<(Writer, usize)> {
        self.parts
            .parts
            .iter()
            .zip(&self.loaded)
            .map(|((w, _), &n)| (*w, n))
            .collect()
    }
    /// Move the rest of each part past its loaded words, give the
    /// constants addresses (each, largest first, at the top of the part
    /// with the most room left), and move every region of `p` that names
    /// one of them there.
    fn place(&self, p: &mut Program) -> Result<(), NetworkError> {
        for (k, (w, part)) in self.parts.parts.iter().enumerate() {
            let need = self.loaded[k] + self.used[k];
            if need > part.len {
                return Err(NetworkError::WriterPart {
                    field: w.field(),
                    writer: w.possessive(),
                    need,
                    have: part.len,
                });
            }
            if self.loaded[k] > self.parts.loadable[k] {
                return Err(NetworkError::LoadPart {
                    field: super::regions::loadable_field(*w),
                    writer: w.possessive(),
                    need: self.loaded[k],
                    have: self.parts.loadable[k],
                });
            }
        }
        let mut top: Vec<usize> = self.parts.parts.iter().map(|(_, r)| r.end()).collect();
        let mut at = vec![0; self.constants.len()];
        let mut order: Vec<usize> = (0..self.constants.len()).collect();
        order.sort_by_key(|&c| std::cmp::Reverse(self.constants[c]));
        for c in order {
            let len = self.constants[c];
            let room =
                |k: usize| top[k] - self.parts.parts[k].1.base - self.loaded[k] - self.used[k];
            let k = (0..top.len())
                .max_by_key(|&k| (room(k), std::cmp::Reverse(k)))
                .expect("parts");
            if room(k) < len {
                return Err(NetworkError::Constant { len, room: room(k) });
            }
            top[k] -= len;
            at[c] = top[k];
        }
        let starts: Vec<usize> = self
            .constants
            .iter()
            .scan(VIRTUAL, |a, &len| {
                let s = *a;
                *a += len;
                Some(s)
            })
            .collect();
        let moved = |r: Region| -> Region {
            if r.base >= REST {
                let k = (r.base - REST) / REST_SPAN;
                let base = self.parts.parts[k].1.base + self.loaded[k];
                return Region::new(base + (r.base - REST - k * REST_SPAN), r.len);
            }
            if r.base < VIRTUAL {
                return r;
            }
            let c = starts
                .iter()
                .rposition(|&s| s <= r.base)
                .expect("a constant");
            Region::new(at[c] + (r.base - starts[c]), r.len)
        };
        for (r, _) in &mut p.preloaded {
            *r = moved(*r);
        }
        for i in &mut p.instrs {
            *i = match *i {
                Instr::Load { dst } => Instr::Load { dst: moved(dst) },
                Instr::Store { src } => Instr::Store { src: moved(src) },
                Instr::Spmv { matrix, src, dst } => Instr::Spmv {
                    matrix,
                    src: moved(src),
                    dst: moved(dst),
                },
                Instr::Ewop { func, a, b, dst } => Instr::Ewop {
                    func,
                    a: moved(a),
                    b: moved(b),
                    dst: moved(dst),
                },
                Instr::Act { func, src, dst } => Instr::Act {
                    func,
                    src: moved(src),
                    dst: moved(dst),
                },
            };
        }
        Ok(())
    }
}

/// Frames the generator times a candidate program for: the steady state
/// is reached by the third.
const SCORED_FRAMES: usize = 6;

/// The overlapped program of `net` on `cfg` (`overlap.units` on).
pub fn compile(net: &Network, cfg: &Config) -> Result<Compiled, NetworkError> {
    net.check()?;
    let widest = net.layers.iter().map(crate::rnn::hidden).max().unwrap_or(1);
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

/// With `overlap.interleaved`, the elements of a vector of `len` that the
/// machine produces and an SpMxV loads, in the order of its words
/// ([`Interleave`]); else element order. Such a vector has no padding
/// words: its producer writes every word.
fn produced_order(
    cfg: &Config,
    len: usize,
    layer: usize,
    what: &str,
) -> Result<Vec<usize>, NetworkError> {
    if !cfg.overlap.interleaved {
        return Ok((0..len).collect());
    }
    if !len.is_multiple_of(cfg.banks) {
        return Err(NetworkError::Shape {
            layer,
            message: format!(
                "{what} ({len}) is not a multiple of banks ({}): with overlap.interleaved every vector the machine writes and an SpMxV loads fills whole bank rows",
                cfg.banks
            ),
        });
    }
    Ok(Interleave::new(len, cfg.banks)
        .order()
        .into_iter()
        .map(|e| e.expect("no padding when len is a multiple of banks"))
        .collect())
}

/// Words of a vector of `len` elements the host sends for an SpMxV, and how
/// the host lays it out.
fn host_input(cfg: &Config, len: usize) -> (usize, Option<Interleave>) {
    if cfg.overlap.interleaved {
        let il = Interleave::new(len, cfg.banks);
        (il.words(), Some(il))
    } else {
        (len, None)
    }
}

/// The program with LSTM gate rows in blocks of `block` cells.
fn build(net: &Network, cfg: &Config, layout: Layout) -> Result<Compiled, NetworkError> {
    let block = layout.block;
    let mut a = Alloc::new(cfg)?;
    // The instructions of the first layer's input part (issued a frame
    // ahead with `overlap.input_ahead`), and where they issue: before the
    // program index `tail_end` or `proj_end`.
    let mut ahead: Vec<(usize, Slot)> = Vec::new();
    let (mut tail_end, mut proj_end) = (None, None);
    let mut source = Vec::new();
    let mut p = Program::default();
    let mut matrices = Vec::new();
    let ew = |func, a, b, dst| Instr::Ewop { func, a, b, dst };
    let act = |func, src, dst| Instr::Act { func, src, dst };
    // Where the next layer reads its input from (`None`: the host, by a load).
    let mut input: Option<Region> = None;
    // The elements of the last layer's output in word order (`None`:
    // element order), for the host's store.
    let mut out_order: Option<Interleave> = None;
    let layers = net.layers.len();
    for (li, layer) in net.layers.iter().enumerate() {
        match layer {
            Layer::Lstm(l) => {
                let n = l.hidden;
                let first = input.is_none();
                let x = match input {
                    Some(prev) => prev,
                    None => {
                        let (words, il) = host_input(cfg, l.input);
                        p.host.load = il;
                        a.take_loaded(Writer::DmaIn, words)
                    }
                };
                // Where the layer's output and its cells sit (word q holds
                // element out_pos[q], cell cell_pos[q]): element order, or
                // bank-interleaved for the SpMxVs that load them.
                let out_pos = produced_order(cfg, l.output(), li, "the layer's output")?;
                let cell_pos = match l.proj {
                    Some(_) => produced_order(cfg, n, li, "the cells (the projection's input)")?,
                    None => out_pos.clone(),
                };
                let hout = match l.proj {
                    Some(_) => a.take_loaded(Writer::Pe, l.output()),
                    None => a.take_loaded(Writer::Elementwise, l.output()),
                };
                // The products (PE array), the summed gates (EWOP: gx + bias,
                // then + gates, in place; i * g then goes where the sum of
                // the i gates was), the activations (ACT) and the cell state
                // (EWOP): every region has one writer.
                let (gates, gx) = (a.take(Writer::Pe, 4 * n), a.take(Writer::Pe, 4 * n));
                let (sum, c) = (
                    a.take(Writer::Elementwise, 4 * n),
                    a.take(Writer::Elementwise, n),
                );
                let act_out = a.take(a.act, 4 * n);
                let hfull = if l.proj.is_some() {
                    a.take_loaded(Writer::Elementwise, n)
                } else {
                    hout
                };
                let bias = a.constant(4 * n);
                // Row order: per block, its cells' i, f, o, g rows (PyTorch
                // rows are gate-major: i, f, g, o, each n cells).
                let mut order = Vec::with_capacity(4 * n);
                for c0 in (0..n).step_by(block) {
                    let m = block.min(n - c0);
                    for gate in [0, 1, 3, 2] {
                        order.extend(cell_pos[c0..c0 + m].iter().map(|&j| gate * n + j));
                    }
                }
                p.preloaded.push((hout, vec![0; l.output()]));
                p.preloaded.push((c, vec![0; n]));
                p.preloaded
                    .push((bias, order.iter().map(|&r| l.bias[r]).collect()));
                // The input part: the first layer's may run a frame ahead,
                // split around the projection.
                // This layer's first matrix in `Network::matrices` (an
                // input part split in two is one network matrix).
                let m0 = source.last().map_or(0, |&m| m + 1);
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
                p.instrs.push(ew(EwOp::Add, gx, bias, sum));
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
                    let s = sum.slice(4 * c0, 4 * m);
                    let g = act_out.slice(4 * c0, 4 * m);
                    let (gi, gf, go, gg) = (
                        g.slice(0, m),
                        g.slice(m, m),
                        g.slice(2 * m, m),
                        g.slice(3 * m, m),
                    );
                    let cb = c.slice(c0, m);
                    let igb = s.slice(0, m);
                    // The values of the serialized program (crate::rnn::lstm_cell).
                    p.instrs.extend([
                        ew(EwOp::Add, s, gates.slice(4 * c0, 4 * m), s),
                        act(ActFn::Sigmoid, s.slice(0, 3 * m), g.slice(0, 3 * m)),
                        act(ActFn::Tanh, s.slice(3 * m, m), gg),
                        ew(EwOp::Mul, gf, cb, cb),
                        ew(EwOp::Mul, gi, gg, igb),
                        ew(EwOp::Add, cb, igb, cb),
                        act(ActFn::Tanh, cb, gg),
                        ew(EwOp::Mul, go, gg, hfull.slice(c0, m)),
                    ]);
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
                    matrices.push(proj.select_rows(&out_pos));
                    source.push(m0 + 2);
                }
                if first {
                    proj_end = Some(p.instrs.len());
                }
                input = Some(hout);
                out_order = cfg
                    .overlap
                    .interleaved
                    .then(|| Interleave::new(l.output(), cfg.banks));
            }
            Layer::Gru(g) => {
                let hn = g.hidden;
                let first = input.is_none();
                let x = match input {
                    Some(prev) => prev,
                    None => {
                        let (words, il) = host_input(cfg, g.input);
                        p.host.load = il;
                        a.take_loaded(Writer::DmaIn, words)
                    }
                };
                // Word q of the state holds element h_pos[q]; the gate rows
                // (r, z, n) follow it.
                let h_pos = produced_order(cfg, hn, li, "the hidden state")?;
                let rows: Vec<usize> = (0..3)
                    .flat_map(|gate| h_pos.iter().map(move |&j| gate * hn + j))
                    .collect();
                let permute = |v: &[i64]| -> Vec<i64> { rows.iter().map(|&r| v[r]).collect() };
                let hs = a.take_loaded(Writer::Elementwise, hn);
                // The products (PE array), then each plus its bias (EWOP):
                // the next frame's products may replace gx and gh as soon
                // as this frame has read them.
                let (gx, gh) = (a.take(Writer::Pe, 3 * hn), a.take(Writer::Pe, 3 * hn));
                let (gxb, ghb) = (
                    a.take(Writer::Elementwise, 3 * hn),
                    a.take(Writer::Elementwise, 3 * hn),
                );
                let (t, t2) = (
                    a.take(Writer::Elementwise, hn),
                    a.take(Writer::Elementwise, hn),
                );
                let (rz, nt) = (a.take(a.act, 2 * hn), a.take(a.act, hn));
                let (bi, bh) = (a.constant(3 * hn), a.constant(3 * hn));
                p.preloaded.push((hs, vec![0; hn]));
                p.preloaded.push((bi, permute(&g.b_ih)));
                p.preloaded.push((bh, permute(&g.b_hh)));
                let (gx_rz, gx_n) = (gxb.slice(0, 2 * hn), gxb.slice(2 * hn, hn));
                let (gh_rz, gh_n) = (ghb.slice(0, 2 * hn), ghb.slice(2 * hn, hn));
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
                p.instrs.push(ew(EwOp::Add, gh, bh, ghb));
                let bias_add = p.instrs.len();
                p.instrs.push(ew(EwOp::Add, gx, bi, gxb));
                if first && cfg.overlap.input_ahead {
                    ahead.extend(
                        (input_part..bias_add - 1)
                            .chain([bias_add])
                            .map(|i| (i, Slot::AfterProj)),
                    );
                }
                let m0 = source.last().map_or(0, |&m| m + 1);
                matrices.push(g.w_ih.select_rows(&rows));
                matrices.push(g.w_hh.select_rows(&rows));
                source.extend([m0, m0 + 1]);
                // The values of the serialized program (crate::rnn); the
                // sum of the r and z gates goes in place of gx's.
                p.instrs.push(ew(EwOp::Add, gx_rz, gh_rz, gx_rz));
                p.instrs.push(act(ActFn::Sigmoid, gx_rz, rz));
                p.instrs.push(ew(EwOp::Mul, r, gh_n, t));
                p.instrs.push(ew(EwOp::Add, gx_n, t, t));
                p.instrs.push(act(ActFn::Tanh, t, nt));
                p.instrs.push(ew(EwOp::Sub, hs, nt, t2));
                p.instrs.push(ew(EwOp::Mul, z, t2, t2));
                p.instrs.push(ew(EwOp::Add, nt, t2, hs));
                if first {
                    (tail_end, proj_end) = (Some(p.instrs.len()), Some(p.instrs.len()));
                }
                input = Some(hs);
                out_order = cfg
                    .overlap
                    .interleaved
                    .then(|| Interleave::new(hn, cfg.banks));
            }
            Layer::Dense(d) => {
                let rows = d.w.rows;
                let first = input.is_none();
                let x = match input {
                    Some(prev) => prev,
                    None => {
                        let (words, il) = host_input(cfg, d.w.cols);
                        p.host.load = il;
                        a.take_loaded(Writer::DmaIn, words)
                    }
                };
                // The last layer's output goes to the host only: element
                // order; any other is loaded by the next layer's SpMxV.
                let last = li + 1 == layers;
                let y_pos = if last {
                    (0..rows).collect()
                } else {
                    produced_order(cfg, rows, li, "the layer's output")?
                };
                if first {
                    p.instrs.push(Instr::Load { dst: x });
                }
                // Products (PE array), plus the bias (EWOP), through the
                // activation (ACT): one writer per region, the last one
                // loadable by the next layer's SpMxV.
                let y = a.take(Writer::Pe, rows);
                let (sum, out) = match d.act {
                    None => {
                        let s = a.take_loaded(Writer::Elementwise, rows);
                        (s, s)
                    }
                    Some(_) => (
                        a.take(Writer::Elementwise, rows),
                        a.take_loaded(a.act, rows),
                    ),
                };
                let bias = a.constant(rows);
                p.preloaded.push((out, vec![0; rows]));
                p.preloaded
                    .push((bias, y_pos.iter().map(|&r| d.bias[r]).collect()));
                p.instrs.push(Instr::Spmv {
                    matrix: matrices.len(),
                    src: x,
                    dst: y,
                });
                source.push(source.last().map_or(0, |&m| m + 1));
                matrices.push(d.w.select_rows(&y_pos));
                p.instrs.push(ew(EwOp::Add, y, bias, sum));
                if let Some(func) = d.act {
                    p.instrs.push(act(func, sum, out));
                }
                input = Some(out);
                out_order =
                    (cfg.overlap.interleaved && !last).then(|| Interleave::new(rows, cfg.banks));
            }
        }
    }
    p.host.store = out_order;
    let out = input.expect("a checked network has layers");
    p.instrs.push(Instr::Store { src: out });
    a.place(&mut p)?;
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
        written: a.needs(),
        loaded: a.loads(),
        constants: a.constants.iter().sum(),
    })
}
