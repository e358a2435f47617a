//! LSTM and GRU steps on the accelerator: networks of stacked layers, the
//! program that runs one frame through them, a plain fixed-point reference
//! of the same arithmetic, and a float reference.
//!
//! LSTM (PyTorch gate order i, f, g, o; optional projection, as ESE's LSTM):
//! `gates = (W_ih x + b) + W_hh h`, `i, f, o = sigmoid`, `g = tanh`,
//! `c' = f*c + i*g`, `h' = o * tanh(c')`, then `h' = P h'` with a projection.
//! GRU (PyTorch): `gi = W_ih x + b_ih`, `gh = W_hh h + b_hh`,
//! `r, z = sigmoid(gi + gh)`, `n = tanh(gi_n + r * gh_n)`, `h' = n + z * (h - n)`.
//! Dense (an ONNX `Gemm`/`MatMul` with its bias and activation):
//! `y = act(W x + b)`, `act` none, sigmoid or tanh.
//! Layer l's output is layer l+1's input; the last layer's output is stored
//! to the host every frame; states start at zero and carry across frames.

use crate::act::{ActFn, ActTable};
use crate::arith::round_shift_saturate;
use crate::config::Config;
use crate::isa::{EwOp, Instr, Region};
use crate::machine::{Machine, Program, ProgramError, RunReport};
pub use crate::overlap::compile::Compiled;
use crate::reference::{reference_spmv_counted, Overflows};
use bbs_compress::Csb;
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct LstmLayer {
    pub input: usize,
    pub hidden: usize,
    /// `4 hidden x input`, rows in gate order i, f, g, o (PyTorch's
    /// `weight_ih`). Pruned apart from `w_hh`, so that the input's product
    /// can run before the last frame's state exists.
    pub w_ih: Csb,
    /// `4 hidden x output` (PyTorch's `weight_hh`; `output` columns: the
    /// projection's rows when there is one).
    pub w_hh: Csb,
    /// `4 hidden` fixed-point biases (b_ih + b_hh).
    pub bias: Vec<i64>,
    /// `output x hidden`, when the layer has a projection.
    pub proj: Option<Csb>,
}

impl LstmLayer {
    pub fn output(&self) -> usize {
        self.proj.as_ref().map_or(self.hidden, |p| p.rows)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GruLayer {
    pub input: usize,
    pub hidden: usize,
    /// `3 hidden x input`, rows in gate order r, z, n.
    pub w_ih: Csb,
    /// `3 hidden x hidden`.
    pub w_hh: Csb,
    pub b_ih: Vec<i64>,
    pub b_hh: Vec<i64>,
}

/// A feed-forward layer: `y = act(W x + b)`; one SpMxV, an EWOP add and
/// an optional ACT pass.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLayer {
    /// `output x input`.
    pub w: Csb,
    pub bias: Vec<i64>,
    pub act: Option<ActFn>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Lstm(LstmLayer),
    Gru(GruLayer),
    Dense(DenseLayer),
}

/// The layer's width: its cells, or a dense layer's outputs.
pub(crate) fn hidden(l: &Layer) -> usize {
    match l {
        Layer::Lstm(l) => l.hidden,
        Layer::Gru(g) => g.hidden,
        Layer::Dense(d) => d.w.rows,
    }
}

impl Layer {
    pub fn input(&self) -> usize {
        match self {
            Layer::Lstm(l) => l.input,
            Layer::Gru(g) => g.input,
            Layer::Dense(d) => d.w.cols,
        }
    }
    pub fn output(&self) -> usize {
        match self {
            Layer::Lstm(l) => l.output(),
            Layer::Gru(g) => g.hidden,
            Layer::Dense(d) => d.w.rows,
        }
    }
    /// `lstm`, `gru` or `dense`.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Lstm(_) => "lstm",
            Layer::Gru(_) => "gru",
            Layer::Dense(_) => "dense",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub layers: Vec<Layer>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("layer {layer}: {message}")]
    Shape { layer: usize, message: String },
    #[error("memory.vector_words: the network needs {need} words of vector memory, the configuration has {have}")]
    VectorMemory { need: usize, have: usize },
    #[error("{field}: the network needs {need} words of {writer} part of the vector memory, the configuration gives it {have}")]
    WriterPart {
        field: &'static str,
        writer: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{field}: the network's SpMxVs load {need} words of {writer} part of the vector memory, the configuration lets the vector load read {have}")]
    LoadPart {
        field: &'static str,
        writer: &'static str,
        need: usize,
        have: usize,
    },
    #[error("overlap.regions: a constant of {len} words (a bias) fits in no writer's part of the vector memory (the most room left is {room} words)")]
    Constant { len: usize, room: usize },
    #[error(transparent)]
    Program(#[from] ProgramError),
}

fn shape_err(layer: usize, message: String) -> NetworkError {
    NetworkError::Shape { layer, message }
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

impl Network {
    pub fn input(&self) -> usize {
        self.layers.first().map_or(0, Layer::input)
    }
    pub fn output(&self) -> usize {
        self.layers.last().map_or(0, Layer::output)
    }

    /// Check the layers' shapes fit together.
    pub fn check(&self) -> Result<(), NetworkError> {
        if self.layers.is_empty() {
            return Err(shape_err(0, "the network has no layers".into()));
        }
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 && layer.input() != self.layers[i - 1].output() {
                return Err(shape_err(
                    i,
                    format!(
                        "input {} but layer {} outputs {}",
                        layer.input(),
                        i - 1,
                        self.layers[i - 1].output()
                    ),
                ));
            }
            match layer {
                Layer::Lstm(l) => {
                    let h = l.hidden;
                    if (l.w_ih.rows, l.w_ih.cols) != (4 * h, l.input)
                        || (l.w_hh.rows, l.w_hh.cols) != (4 * h, l.output())
                    {
                        return Err(shape_err(
                            i,
                            format!(
                                "gate matrices are {}x{} and {}x{}, expected {}x{} and {}x{}",
                                l.w_ih.rows,
                                l.w_ih.cols,
                                l.w_hh.rows,
                                l.w_hh.cols,
                                4 * h,
                                l.input,
                                4 * h,
                                l.output()
                            ),
                        ));
                    }
                    if l.bias.len() != 4 * h {
                        return Err(shape_err(
                            i,
                            format!("bias has {} values, expected {}", l.bias.len(), 4 * h),
                        ));
                    }
                    if let Some(p) = &l.proj {
                        if p.cols != h {
                            return Err(shape_err(
                                i,
                                format!("projection has {} columns, expected {h}", p.cols),
                            ));
                        }
                    }
                }
                Layer::Gru(g) => {
                    let h = g.hidden;
                    if (g.w_ih.rows, g.w_ih.cols) != (3 * h, g.input)
                        || (g.w_hh.rows, g.w_hh.cols) != (3 * h, h)
                    {
                        return Err(shape_err(
                            i,
                            format!(
                                "matrices are {}x{} and {}x{}, expected {}x{} and {}x{h}",
                                g.w_ih.rows,
                                g.w_ih.cols,
                                g.w_hh.rows,
                                g.w_hh.cols,
                                3 * h,
                                g.input,
                                3 * h
                            ),
                        ));
                    }
                    if g.b_ih.len() != 3 * h || g.b_hh.len() != 3 * h {
                        return Err(shape_err(i, format!("biases must have {} values", 3 * h)));
                    }
                }
                Layer::Dense(d) => {
                    if d.bias.len() != d.w.rows {
                        return Err(shape_err(
                            i,
                            format!(
                                "bias has {} values, the matrix {} rows",
                                d.bias.len(),
                                d.w.rows
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The matrices in the order the program numbers them.
    pub fn matrices(&self) -> Vec<Csb> {
        let mut v = Vec::new();
        for layer in &self.layers {
            match layer {
                Layer::Lstm(l) => {
                    v.push(l.w_ih.clone());
                    v.push(l.w_hh.clone());
                    v.extend(l.proj.clone());
                }
                Layer::Gru(g) => {
                    v.push(g.w_ih.clone());
                    v.push(g.w_hh.clone());
                }
                Layer::Dense(d) => v.push(d.w.clone()),
            }
        }
        v
    }

    /// The program and the matrices the machine of `cfg` runs: the
    /// serialized program ([`Network::program`]) and [`Network::matrices`],
    /// or, with `overlap.units`, the overlapped machine's
    /// ([`crate::overlap::compile`]).
    pub fn compile(&self, cfg: &Config) -> Result<Compiled, NetworkError> {
        if cfg.overlap.units {
            return crate::overlap::compile::compile(self, cfg);
        }
        Ok(Compiled {
            program: self.program(cfg)?,
            matrices: self.matrices(),
            block: self.layers.iter().map(hidden).max().unwrap_or(0),
            source: (0..self.matrices().len()).collect(),
            written: vec![],
            loaded: vec![],
            constants: 0,
        })
    }

    /// The serialized machine's program of one frame: load the input, run
    /// every layer, store the output.
    pub fn program(&self, cfg: &Config) -> Result<Program, NetworkError> {
        self.check()?;
        let mut a = Alloc(0);
        let mut p = Program::default();
        let mut m = 0usize; // matrix number
                            // Where the next layer reads its input from.
        let mut input = a.take(self.input());
        p.instrs.push(Instr::Load { dst: input });
        let ew = |func, a, b, dst| Instr::Ewop { func, a, b, dst };
        for layer in &self.layers {
            match layer {
                Layer::Lstm(l) => {
                    let h = l.hidden;
                    let (x, hout) = (a.take(l.input), a.take(l.output()));
                    let (c, gates, gx, bias) =
                        (a.take(h), a.take(4 * h), a.take(4 * h), a.take(4 * h));
                    let (gi, gf, gg, go) = (
                        gates.slice(0, h),
                        gates.slice(h, h),
                        gates.slice(2 * h, h),
                        gates.slice(3 * h, h),
                    );
                    p.preloaded.push((hout, vec![0; l.output()]));
                    p.preloaded.push((c, vec![0; h]));
                    p.preloaded.push((bias, l.bias.clone()));
                    p.instrs.push(ew(EwOp::Copy, input, input, x));
                    p.instrs.push(Instr::Spmv {
                        matrix: m,
                        src: x,
                        dst: gx,
                    });
                    p.instrs.push(ew(EwOp::Add, gx, bias, gx));
                    p.instrs.push(Instr::Spmv {
                        matrix: m + 1,
                        src: hout,
                        dst: gates,
                    });
                    m += 2;
                    p.instrs.push(ew(EwOp::Add, gates, gx, gates));
                    p.instrs.extend(lstm_cell(gi, gf, gg, go, c, None));
                    match &l.proj {
                        None => p.instrs.push(ew(EwOp::Mul, go, gg, hout)),
                        Some(_) => {
                            // The gate region is free again: h before the
                            // projection lives in its input gate.
                            p.instrs.push(ew(EwOp::Mul, go, gg, gi));
                            p.instrs.push(Instr::Spmv {
                                matrix: m,
                                src: gi,
                                dst: hout,
                            });
                            m += 1;
                        }
                    }
                    input = hout;
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
                    p.instrs.push(ew(EwOp::Copy, input, input, x));
                    p.instrs.push(Instr::Spmv {
                        matrix: m,
                        src: x,
                        dst: gi,
                    });
                    p.instrs.push(Instr::Spmv {
                        matrix: m + 1,
                        src: hs,
                        dst: gh,
                    });
                    m += 2;
                    p.instrs.push(ew(EwOp::Add, gi, bi, gi));
                    p.instrs.push(ew(EwOp::Add, gh, bh, gh));
                    p.instrs.push(ew(EwOp::Add, rz, gh.slice(0, 2 * hn), rz));
                    p.instrs.push(Instr::Act {
                        func: ActFn::Sigmoid,
                        src: rz,
                        dst: rz,
                    });
                    p.instrs.push(ew(EwOp::Mul, r, gh_n, t));
                    p.instrs.push(ew(EwOp::Add, gi_n, t, gi_n));
                    p.instrs.push(Instr::Act {
                        func: ActFn::Tanh,
                        src: gi_n,
                        dst: gi_n,
                    });
                    p.instrs.push(ew(EwOp::Sub, hs, gi_n, t));
                    p.instrs.push(ew(EwOp::Mul, z, t, t));
                    p.instrs.push(ew(EwOp::Add, gi_n, t, hs));
                    input = hs;
                }
                Layer::Dense(d) => {
                    let (y, bias) = (a.take(d.w.rows), a.take(d.w.rows));
                    p.preloaded.push((y, vec![0; d.w.rows]));
                    p.preloaded.push((bias, d.bias.clone()));
                    p.instrs.push(Instr::Spmv {
                        matrix: m,
                        src: input,
                        dst: y,
                    });
                    m += 1;
                    p.instrs.push(ew(EwOp::Add, y, bias, y));
                    if let Some(func) = d.act {
                        p.instrs.push(Instr::Act {
                            func,
                            src: y,
                            dst: y,
                        });
                    }
                    input = y;
                }
            }
        }
        p.instrs.push(Instr::Store { src: input });
        if a.0 > cfg.memory.vector_words {
            return Err(NetworkError::VectorMemory {
                need: a.0,
                have: cfg.memory.vector_words,
            });
        }
        Ok(p)
    }
}

/// A sequence run on the accelerator.
#[derive(Clone, Debug)]
pub struct SequenceRun {
    /// The last layer's output, per frame.
    pub outputs: Vec<Vec<i64>>,
    /// Each frame's report (the same cycles every frame: the program is data-independent).
    pub frames: Vec<RunReport>,
}

/// Run `frames` (fixed-point inputs) through the network on the accelerator.
pub fn run_sequence(
    cfg: &Config,
    net: &Network,
    frames: &[Vec<i64>],
) -> Result<SequenceRun, NetworkError> {
    let mut runner = SequenceRunner::new(cfg, net)?;
    let mut outputs = Vec::with_capacity(frames.len());
    let mut reports = Vec::with_capacity(frames.len());
    for frame in frames {
        let (out, r) = runner.step(frame.clone())?;
        outputs.push(out);
        reports.push(r);
    }
    Ok(SequenceRun {
        outputs,
        frames: reports,
    })
}

/// The accelerator running a network one frame at a time, its state
/// carried: [`run_sequence`] for a stream of frames, in memory that does
/// not grow with their number.
pub struct SequenceRunner {
    program: Program,
    machine: Machine,
    inputs: VecDeque<Vec<i64>>,
    /// Each layer's output state `h` in the vector memory.
    states: Vec<Region>,
}

/// Each layer's output state in the vector memory: both program generators
/// (the serialized [`Network::program`] and the overlapped
/// [`crate::overlap::compile`]) preload, layer by layer, three regions (a
/// dense layer two), the first of them the layer's `h` (zeros; a dense
/// layer's output); an LSTM's second is its `c`.
fn state_regions(net: &Network, p: &Program) -> Vec<Region> {
    let mut pre = p.preloaded.iter();
    net.layers
        .iter()
        .map(|l| {
            let (h, data) = pre.next().expect("preloaded regions per layer");
            debug_assert_eq!(data.len(), l.output());
            pre.next();
            if !matches!(l, Layer::Dense(_)) {
                pre.next();
            }
            *h
        })
        .collect()
}

impl SequenceRunner {
    pub fn new(cfg: &Config, net: &Network) -> Result<SequenceRunner, NetworkError> {
        let Compiled {
            program, matrices, ..
        } = net.compile(cfg)?;
        let mut machine = Machine::new(cfg, matrices)?;
        machine.validate(&program)?;
        machine.preload(&program);
        Ok(SequenceRunner {
            states: state_regions(net, &program),
            program,
            machine,
            inputs: VecDeque::new(),
        })
    }

    /// Start a new sequence: every state back to zero.
    pub fn reset(&mut self) {
        self.machine.preload(&self.program);
        self.inputs.clear();
    }

    /// Start a new sequence with layer `layer`'s output state `h` (the
    /// others, and an LSTM's cell state, at zero): a decoder started from
    /// its encoder's last state.
    pub fn start_from(&mut self, layer: usize, h: &[i64]) {
        self.reset();
        self.machine.write_vector(self.states[layer], h);
    }

    /// Run one frame: the last layer's output and the frame's report.
    pub fn step(&mut self, frame: Vec<i64>) -> Result<(Vec<i64>, RunReport), NetworkError> {
        self.inputs.push_back(frame);
        let mut r = self.machine.run(&self.program, &mut self.inputs)?;
        let out = r.outputs.pop().expect("the program stores one vector");
        Ok((out, r))
    }
}

/// The plain fixed-point reference: dense loops over the same arithmetic,
/// no instruction stream, no vector memory.
pub fn reference_sequence(cfg: &Config, net: &Network, frames: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let mut r = ReferenceState::new(cfg, net);
    frames.iter().map(|f| r.step(f)).collect()
}

/// [`reference_sequence`] one frame at a time, its state carried.
pub struct ReferenceState<'a> {
    cfg: &'a Config,
    net: &'a Network,
    sig: ActTable,
    tanh: ActTable,
    dense: Vec<Vec<ndarray::Array2<i64>>>,
    h: Vec<Vec<i64>>,
    c: Vec<Vec<i64>>,
    /// Per layer, how often its arithmetic left the format so far (the
    /// accelerator's is the same, value for value).
    pub overflows: Vec<Overflows>,
}

impl<'a> ReferenceState<'a> {
    pub fn new(cfg: &'a Config, net: &'a Network) -> ReferenceState<'a> {
        let fmt = cfg.format();
        let dense = net
            .layers
            .iter()
            .map(|l| match l {
                Layer::Lstm(l) => [&l.w_ih, &l.w_hh]
                    .into_iter()
                    .chain(l.proj.as_ref())
                    .map(Csb::to_dense_fixed)
                    .collect(),
                Layer::Gru(g) => vec![g.w_ih.to_dense_fixed(), g.w_hh.to_dense_fixed()],
                Layer::Dense(d) => vec![d.w.to_dense_fixed()],
            })
            .collect();
        ReferenceState {
            cfg,
            net,
            sig: ActTable::new(ActFn::Sigmoid, fmt),
            tanh: ActTable::new(ActFn::Tanh, fmt),
            dense,
            overflows: vec![Overflows::default(); net.layers.len()],
            h: net.layers.iter().map(|l| vec![0; l.output()]).collect(),
            c: net
                .layers
                .iter()
                .map(|l| match l {
                    Layer::Lstm(l) => vec![0; l.hidden],
                    Layer::Gru(_) | Layer::Dense(_) => vec![],
                })
                .collect(),
        }
    }

    /// The last layer's output for the next frame.
    pub fn step(&mut self, frame: &[i64]) -> Vec<i64> {
        let (cfg, fmt) = (self.cfg, self.cfg.format());
        let (sig, tanh) = (&self.sig, &self.tanh);
        // Element-wise saturations of the layer being computed.
        let clamped = std::cell::Cell::new(0u64);
        let sat = |v: i64| {
            let s = v.clamp(fmt.min(), fmt.max());
            clamped.set(clamped.get() + u64::from(s != v));
            s
        };
        let mul = |a: i64, b: i64| {
            let y = round_shift_saturate(a * b, fmt.frac, fmt.width);
            clamped.set(clamped.get() + u64::from(y != round_shift_saturate(a * b, fmt.frac, 64)));
            y
        };
        let (dense, h, c) = (&self.dense, &mut self.h, &mut self.c);
        let mut x = frame.to_vec();
        for (li, layer) in self.net.layers.iter().enumerate() {
            let o = &mut self.overflows[li];
            clamped.set(0);
            let mut spmv =
                |w: &ndarray::Array2<i64>, v: &[i64]| reference_spmv_counted(cfg, w, v, o);
            match layer {
                Layer::Lstm(l) => {
                    let n = l.hidden;
                    let px = spmv(&dense[li][0], &x);
                    let ph = spmv(&dense[li][1], &h[li]);
                    let gate = |k: usize, j: usize| {
                        sat(ph[k * n + j] + sat(px[k * n + j] + l.bias[k * n + j]))
                    };
                    let mut hfull = vec![0; n];
                    for j in 0..n {
                        let (i, f) = (sig.eval(gate(0, j)), sig.eval(gate(1, j)));
                        let (g, o) = (tanh.eval(gate(2, j)), sig.eval(gate(3, j)));
                        c[li][j] = sat(mul(f, c[li][j]) + mul(i, g));
                        hfull[j] = mul(o, tanh.eval(c[li][j]));
                    }
                    h[li] = match &l.proj {
                        None => hfull,
                        Some(_) => spmv(&dense[li][2], &hfull),
                    };
                }
                Layer::Gru(g) => {
                    let n = g.hidden;
                    let gi: Vec<i64> = spmv(&dense[li][0], &x)
                        .iter()
                        .zip(&g.b_ih)
                        .map(|(a, b)| sat(a + b))
                        .collect();
                    let gh: Vec<i64> = spmv(&dense[li][1], &h[li])
                        .iter()
                        .zip(&g.b_hh)
                        .map(|(a, b)| sat(a + b))
                        .collect();
                    for j in 0..n {
                        let r = sig.eval(sat(gi[j] + gh[j]));
                        let z = sig.eval(sat(gi[n + j] + gh[n + j]));
                        let nn = tanh.eval(sat(gi[2 * n + j] + mul(r, gh[2 * n + j])));
                        h[li][j] = sat(nn + mul(z, sat(h[li][j] - nn)));
                    }
                }
                Layer::Dense(d) => {
                    h[li] = spmv(&dense[li][0], &x)
                        .iter()
                        .zip(&d.bias)
                        .map(|(a, b)| {
                            let y = sat(a + b);
                            match d.act {
                                None => y,
                                Some(ActFn::Sigmoid) => sig.eval(y),
                                Some(ActFn::Tanh) => tanh.eval(y),
                                Some(ActFn::Relu) => y.max(0),
                            }
                        })
                        .collect();
                }
            }
            self.overflows[li].elementwise_saturated += clamped.get();
            x = h[li].clone();
        }
        x
    }
}

/// The float reference (f64) on the dequantized weights, biases and inputs.
pub fn float_sequence(cfg: &Config, net: &Network, frames: &[Vec<i64>]) -> Vec<Vec<f64>> {
    let mut r = FloatState::new(cfg, net);
    frames.iter().map(|f| r.step(f)).collect()
}

/// [`float_sequence`] one frame at a time, its state carried.
pub struct FloatState {
    layers: Vec<FloatCell>,
    one: f64,
    h: Vec<Vec<f64>>,
    c: Vec<Vec<f64>>,
}

/// One layer of a [`FloatState`]: its matrices (`w_ih`, `w_hh`, and an
/// LSTM's projection) and biases (an LSTM's summed, a GRU's `b_ih`, `b_hh`).
struct FloatCell {
    lstm: bool,
    /// A dense layer and its activation (`mats[0]`, `biases[0]`).
    dense: Option<Option<ActFn>>,
    hidden: usize,
    output: usize,
    mats: Vec<ndarray::Array2<f32>>,
    biases: Vec<Vec<f64>>,
}

impl FloatState {
    /// `net` in float: its quantized weights and biases dequantized.
    pub fn new(cfg: &Config, net: &Network) -> FloatState {
        let one = (1i64 << cfg.frac_bits) as f64;
        let deq = |v: &[i64]| -> Vec<f64> { v.iter().map(|&x| x as f64 / one).collect() };
        let layers = net
            .layers
            .iter()
            .map(|l| match l {
                Layer::Lstm(l) => FloatCell {
                    lstm: true,
                    dense: None,
                    hidden: l.hidden,
                    output: l.output(),
                    mats: [&l.w_ih, &l.w_hh]
                        .into_iter()
                        .chain(l.proj.as_ref())
                        .map(Csb::to_dense_f32)
                        .collect(),
                    biases: vec![deq(&l.bias)],
                },
                Layer::Gru(g) => FloatCell {
                    lstm: false,
                    dense: None,
                    hidden: g.hidden,
                    output: g.hidden,
                    mats: vec![g.w_ih.to_dense_f32(), g.w_hh.to_dense_f32()],
                    biases: vec![deq(&g.b_ih), deq(&g.b_hh)],
                },
                Layer::Dense(d) => FloatCell {
                    lstm: false,
                    dense: Some(d.act),
                    hidden: d.w.rows,
                    output: d.w.rows,
                    mats: vec![d.w.to_dense_f32()],
                    biases: vec![deq(&d.bias)],
                },
            })
            .collect();
        FloatState::with_layers(layers, one)
    }

    /// A trained network as it is, in float: no pruning, no quantization.
    pub fn dense(layers: &[crate::workloads::FloatLayer]) -> FloatState {
        use crate::workloads::FloatKind;
        let f64s = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| f64::from(x)).collect() };
        let cells = layers
            .iter()
            .map(|l| {
                let lstm = l.kind == FloatKind::Lstm;
                let dense = match l.kind {
                    FloatKind::Dense(act) => Some(act),
                    _ => None,
                };
                let hidden = l.w_ih.nrows()
                    / match l.kind {
                        FloatKind::Lstm => 4,
                        FloatKind::Gru => 3,
                        FloatKind::Dense(_) => 1,
                    };
                FloatCell {
                    lstm,
                    dense,
                    hidden,
                    output: l.w_hr.as_ref().map_or(hidden, |p| p.nrows()),
                    mats: [&l.w_ih, &l.w_hh]
                        .into_iter()
                        .take(if dense.is_some() { 1 } else { 2 })
                        .chain(l.w_hr.as_ref())
                        .cloned()
                        .collect(),
                    biases: if lstm {
                        vec![l
                            .b_ih
                            .iter()
                            .zip(&l.b_hh)
                            .map(|(a, b)| f64::from(a + b))
                            .collect()]
                    } else {
                        vec![f64s(&l.b_ih), f64s(&l.b_hh)]
                    },
                }
            })
            .collect();
        FloatState::with_layers(cells, 1.0)
    }

    fn with_layers(layers: Vec<FloatCell>, one: f64) -> FloatState {
        FloatState {
            h: layers.iter().map(|l| vec![0.0; l.output]).collect(),
            c: layers
                .iter()
                .map(|l| if l.lstm { vec![0.0; l.hidden] } else { vec![] })
                .collect(),
            layers,
            one,
        }
    }

    /// The last layer's output for the next frame (fixed-point input).
    pub fn step(&mut self, frame: &[i64]) -> Vec<f64> {
        let one = self.one;
        let x: Vec<f64> = frame.iter().map(|&v| v as f64 / one).collect();
        self.step_f64(&x)
    }

    /// The last layer's output for the next frame (float input).
    pub fn step_f64(&mut self, frame: &[f64]) -> Vec<f64> {
        let mv = |d: &ndarray::Array2<f32>, x: &[f64]| -> Vec<f64> {
            d.rows()
                .into_iter()
                .map(|r| r.iter().zip(x).map(|(&w, &v)| w as f64 * v).sum())
                .collect()
        };
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let (h, c) = (&mut self.h, &mut self.c);
        let mut x = frame.to_vec();
        for (li, layer) in self.layers.iter().enumerate() {
            let (m, n) = (&layer.mats, layer.hidden);
            if let Some(act) = layer.dense {
                h[li] = mv(&m[0], &x)
                    .iter()
                    .zip(&layer.biases[0])
                    .map(|(a, b)| {
                        let y = a + b;
                        match act {
                            None => y,
                            Some(ActFn::Sigmoid) => sig(y),
                            Some(f) => f.float(y),
                        }
                    })
                    .collect();
            } else if layer.lstm {
                let b = &layer.biases[0];
                let pre: Vec<f64> = mv(&m[0], &x)
                    .iter()
                    .zip(mv(&m[1], &h[li]))
                    .zip(b)
                    .map(|((a, u), b)| a + u + b)
                    .collect();
                let mut hfull = vec![0.0; n];
                for j in 0..n {
                    let (i, f, g, o) = (
                        sig(pre[j]),
                        sig(pre[n + j]),
                        pre[2 * n + j].tanh(),
                        sig(pre[3 * n + j]),
                    );
                    c[li][j] = f * c[li][j] + i * g;
                    hfull[j] = o * c[li][j].tanh();
                }
                h[li] = match m.get(2) {
                    None => hfull,
                    Some(p) => mv(p, &hfull),
                };
            } else {
                let gi: Vec<f64> = mv(&m[0], &x)
                    .iter()
                    .zip(&layer.biases[0])
                    .map(|(a, b)| a + b)
                    .collect();
                let gh: Vec<f64> = mv(&m[1], &h[li])
                    .iter()
                    .zip(&layer.biases[1])
                    .map(|(a, b)| a + b)
                    .collect();
                for j in 0..n {
                    let r = sig(gi[j] + gh[j]);
                    let z = sig(gi[n + j] + gh[n + j]);
                    let nn = (gi[2 * n + j] + r * gh[2 * n + j]).tanh();
                    h[li][j] = (1.0 - z) * nn + z * h[li][j];
                }
            }
            x = h[li].clone();
        }
        x
    }
}

/// The cell update after the gates are summed, in place: `i, f, o =
/// sigmoid`, `g = tanh`, `f = f * c`, `i = i * g`, `c = f + i`,
/// `g = tanh(c)`; `h = o * g` is left to the caller (its destination
/// depends on the projection). `sigmoid_ifo` is the contiguous i, f, o
/// region when the gates are laid out i, f, o, g (the chained program);
/// `None` runs sigmoid on i, f and o apart (PyTorch order i, f, g, o).
pub(crate) fn lstm_cell(
    gi: Region,
    gf: Region,
    gg: Region,
    go: Region,
    c: Region,
    sigmoid_ifo: Option<Region>,
) -> Vec<Instr> {
    let ew = |func, a, b, dst| Instr::Ewop { func, a, b, dst };
    let act = |func, r: Region| Instr::Act {
        func,
        src: r,
        dst: r,
    };
    let mut v = match sigmoid_ifo {
        Some(ifo) => vec![act(ActFn::Sigmoid, ifo)],
        None => vec![
            act(ActFn::Sigmoid, Region::new(gi.base, gi.len + gf.len)),
            act(ActFn::Sigmoid, go),
        ],
    };
    v.extend([
        act(ActFn::Tanh, gg),
        ew(EwOp::Mul, gf, c, gf),
        ew(EwOp::Mul, gi, gg, gi),
        ew(EwOp::Add, gf, gi, c),
        Instr::Act {
            func: ActFn::Tanh,
            src: c,
            dst: gg,
        },
    ]);
    v
}
