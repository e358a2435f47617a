//! The whole accelerator running an instruction stream: the controller
//! steps through the program, the PE array does SpMxV, the EWOP and ACT
//! units do element-wise work and activations, the DMA moves vectors to and
//! from the host. In the serialized machine (`overlap.units = false`)
//! instructions run one after another; each one's cycles are
//! [`crate::arch::timing`]'s (a dispatch cycle, then the unit's work). In the
//! overlapped machine the units run concurrently and [`crate::overlap`]
//! places every instruction in time; the values are the same either way,
//! because the validator admits only programs whose waits keep every read
//! after its write. A DMA beat carries `beat_elements =
//! max(1, link_bytes_per_cycle / value_bytes)` whole elements
//! ([`Config::beat_elements`]); `link_latency` is the host's: it answers
//! that many cycles after the accelerator asks (first input beat of a load,
//! first accepted beat of a store). The generated RTL (`bbs_seq.v`) has
//! exactly these cycle counts.
//!
//! Element-wise arithmetic (Q(W.F), saturating): add and sub are exact then
//! saturated; mul rounds half up back to F fraction bits (as the PE output
//! path); act uses the tables of [`crate::act`] (relu, `max(x, 0)`, none).

use crate::act::ActUnit;
use crate::arch::{placement, timing, HostLayout, Interleave};
use crate::config::{Config, ConfigError};
use crate::elementwise::{self, Simd};
use crate::isa::{EwOp, Instr, Region};
use crate::kernel::{KernelPath, KernelScratch, SpmvKernel};
use crate::overlap::access::{access, Access};
use crate::overlap::schedule::{self, FrameTimes, Scheduler};
use crate::overlap::{Issue, Wait};
use crate::spmv::SimError;
use bbs_compress::Csb;
use serde::Serialize;
use std::collections::VecDeque;

/// A program and the vector-memory contents it expects before it first runs
/// (biases, initial states).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub instrs: Vec<Instr>,
    pub preloaded: Vec<(Region, Vec<i64>)>,
    /// Per instruction, what the overlapped machine's issue stage waits for
    /// ([`crate::overlap::waits::derive`] writes them); empty for the
    /// serialized machine, which ignores them.
    pub waits: Vec<Vec<Wait>>,
    /// The order the overlapped machine's units take the instructions
    /// ([`Issue`]); empty: program order.
    pub issue: Vec<Issue>,
    /// How the host orders the vectors it sends and takes: in element
    /// order, or bank-interleaved (`overlap.interleaved`,
    /// [`crate::arch::interleave`]). [`Machine::run`] takes and returns
    /// element order either way.
    pub host: HostLayout,
}

#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("instruction {index} ({name}.{field}): {message}")]
    Invalid {
        index: usize,
        name: &'static str,
        field: &'static str,
        message: String,
    },
    #[error("program: {0}")]
    Program(String),
    #[error("instruction {index} (load): the host has no more input")]
    NoInput { index: usize },
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// Which unit an instruction keeps busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Dma,
    Pe,
    Ewop,
    Act,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstrTiming {
    pub index: usize,
    pub op: &'static str,
    pub unit: Unit,
    /// The dispatch cycle, from the frame's first (for `spmv`, of its vector load).
    pub start: u64,
    /// From `start` to the instruction's end.
    pub cycles: u64,
    /// `spmv`: the first cycle the PE array issues its words (in the
    /// serialized machine `start + 1 + bank_size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_start: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnitCycles {
    pub dma: u64,
    pub pe: u64,
    pub ewop: u64,
    pub act: u64,
}

/// One pass of a program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// The frame's cycles: in the serialized machine from start to done; in
    /// the overlapped one from the end of the frame before to this frame's
    /// end (the first frame: from the start), which in steady state is the
    /// interval between frames.
    pub cycles: u64,
    pub units: UnitCycles,
    /// Multiply-accumulates done on stored CSB weights.
    pub macs: u64,
    /// `macs / (pes * banks * cycles)`.
    pub multiplier_utilization: f64,
    pub timeline: Vec<InstrTiming>,
    #[serde(skip)]
    pub outputs: Vec<Vec<i64>>,
}

pub struct Machine {
    cfg: Config,
    matrices: Vec<Csb>,
    /// Each matrix prepared for the functional SpMxV ([`crate::kernel`]).
    kernels: Vec<SpmvKernel>,
    scratch: KernelScratch,
    /// An EWOP's `b` operand when it is also the destination.
    elementwise: Vec<i64>,
    /// An SpMxV's source in column order, gathered from a bank-interleaved
    /// vector (`overlap.interleaved`).
    gathered: Vec<i64>,
    /// The instruction set of the EWOP and ACT loops ([`crate::elementwise`]).
    simd: Simd,
    vmem: Vec<i64>,
    act: ActUnit,
    /// The overlapped machine's clock, carried from frame to frame.
    overlap: Option<OverlapClock>,
    /// The serialized machine's times of the last program it ran: every
    /// frame of a program takes the same, and working them out per element
    /// costs more than running the frame.
    serialized: Option<(Vec<Instr>, FrameTimes)>,
    /// The frame [`Machine::run`] places is the last of a start
    /// ([`Machine::run_last`]).
    last_of_start: bool,
}

/// The overlapped machine between frames: the program it runs (to notice a
/// different one), its accesses, when each unit is free, and the last frame's times.
struct OverlapClock {
    instrs: Vec<Instr>,
    waits: Vec<Vec<Wait>>,
    issue: Vec<Issue>,
    scheduler: Scheduler,
    /// The cycle after the last frame placed.
    done: i64,
}

/// `dst` to write and `src` to read in one memory, where the two do not
/// overlap (or `src` is empty).
fn apart_mut(mem: &mut [i64], dst: Region, src: Region) -> (&mut [i64], &[i64]) {
    if src.len == 0 {
        return (&mut mem[dst.base..dst.end()], &[]);
    }
    if dst.base < src.base {
        let (lo, hi) = mem.split_at_mut(src.base);
        (&mut lo[dst.base..dst.end()], &hi[..src.len])
    } else {
        let (lo, hi) = mem.split_at_mut(dst.base);
        (&mut hi[..dst.len], &lo[src.base..src.end()])
    }
}

fn invalid(index: usize, instr: &Instr, field: &'static str, message: String) -> ProgramError {
    ProgramError::Invalid {
        index,
        name: instr.name(),
        field,
        message,
    }
}

impl Machine {
    /// A machine with these matrices in its matrix memory; each must fit the configuration.
    pub fn new(cfg: &Config, matrices: Vec<Csb>) -> Result<Machine, ProgramError> {
        cfg.validate()?;
        for m in &matrices {
            cfg.check_matrix(m)?;
        }
        placement::check_fits(cfg, &matrices)?;
        Ok(Machine {
            cfg: cfg.clone(),
            act: ActUnit::new(cfg.format()),
            vmem: vec![0; cfg.memory.vector_words],
            kernels: matrices.iter().map(|m| SpmvKernel::new(cfg, m)).collect(),
            scratch: KernelScratch::default(),
            elementwise: Vec::new(),
            gathered: Vec::new(),
            simd: Simd::best(),
            matrices,
            overlap: None,
            serialized: None,
            last_of_start: false,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The SpMxV kernel path of each matrix ([`crate::kernel`]).
    pub fn kernel_paths(&self) -> Vec<KernelPath> {
        self.kernels.iter().map(|k| k.path()).collect()
    }

    /// Split SpMxVs over rayon's threads from `least` multiply-adds on
    /// ([`crate::kernel::PARALLEL_MACS`] by default); `None`: never.
    pub fn set_parallel(&mut self, least: Option<usize>) {
        for k in &mut self.kernels {
            k.set_parallel(least);
        }
    }

    /// Run every matrix's SpMxVs on `path` where it is available, and the
    /// EWOP and ACT loops at the matching instruction set (baseline for
    /// the reference and scalar paths), for benchmarks and tests; returns
    /// whether the path was available for all matrices (the machine's
    /// results are the same on every path).
    pub fn set_kernel_path(&mut self, path: KernelPath) -> bool {
        let simd = match path {
            KernelPath::Reference | KernelPath::Scalar => Simd::Baseline,
            KernelPath::Avx2 => Simd::Avx2,
            KernelPath::Avx512 => Simd::Avx512,
        };
        if Simd::available().contains(&simd) {
            self.simd = simd;
        }
        self.kernels
            .iter_mut()
            .fold(true, |all, k| all & k.set_path(path))
    }

    pub fn vector(&self, r: Region) -> &[i64] {
        &self.vmem[r.base..r.end()]
    }

    /// Check a program before running it: it fits the instruction buffer,
    /// every region is inside the vector memory with the right length, every
    /// matrix exists, and nothing is read before it is written (by a
    /// preloaded region or an earlier instruction).
    pub fn validate(&self, p: &Program) -> Result<(), ProgramError> {
        let words = self.cfg.memory.vector_words;
        if p.instrs.len() > self.cfg.memory.instruction_words {
            return Err(ProgramError::Program(format!(
                "{} instructions do not fit the instruction buffer ({}, memory.instruction_words)",
                p.instrs.len(),
                self.cfg.memory.instruction_words
            )));
        }
        // The overlapped machine's units write only their own parts.
        let parts = if self.cfg.overlap.units {
            Some(crate::overlap::regions::WriterRegions::new(&self.cfg)?)
        } else {
            None
        };
        let mut written = vec![false; words];
        for (i, (r, data)) in p.preloaded.iter().enumerate() {
            if r.end() > words || data.len() != r.len {
                return Err(ProgramError::Program(format!(
                    "preloaded region {i} ({}..{}, {} values) does not fit the vector memory of {words} (memory.vector_words)",
                    r.base,
                    r.end(),
                    data.len()
                )));
            }
            written[r.base..r.end()].iter_mut().for_each(|w| *w = true);
        }
        for (index, instr) in p.instrs.iter().enumerate() {
            let check_bounds = |field, r: Region| {
                if r.len == 0 || r.end() > words {
                    Err(invalid(
                        index,
                        instr,
                        field,
                        format!(
                            "region {}..{} is empty or outside the vector memory of {words}",
                            r.base,
                            r.end()
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
            for (field, r) in instr.reads() {
                check_bounds(field, r)?;
                if let Some(a) = (r.base..r.end()).find(|&a| !written[a]) {
                    return Err(invalid(
                        index,
                        instr,
                        field,
                        format!("reads address {a} before anything writes it"),
                    ));
                }
            }
            if let Some(d) = instr.writes() {
                check_bounds("dst", d)?;
            }
            if let Some(parts) = &parts {
                if let Some(why) = parts.refuse_write(instr, &self.cfg) {
                    return Err(invalid(index, instr, "dst", why));
                }
                if let Some(why) = parts.refuse_load(instr) {
                    return Err(invalid(index, instr, "src", why));
                }
            }
            match *instr {
                Instr::Spmv { matrix, src, dst } => {
                    let m = self.matrices.get(matrix).ok_or_else(|| {
                        invalid(
                            index,
                            instr,
                            "matrix",
                            format!("no matrix {matrix} ({} loaded)", self.matrices.len()),
                        )
                    })?;
                    if self.cfg.overlap.interleaved {
                        let words = Interleave::new(m.cols, self.cfg.banks).words();
                        if src.len != words {
                            return Err(invalid(
                                index,
                                instr,
                                "src",
                                format!(
                                    "length {}, the matrix's {} columns take {words} words bank-interleaved (overlap.interleaved)",
                                    src.len, m.cols
                                ),
                            ));
                        }
                    } else if src.len != m.cols {
                        return Err(invalid(
                            index,
                            instr,
                            "src",
                            format!("length {}, the matrix has {} columns", src.len, m.cols),
                        ));
                    }
                    if dst.len != m.rows {
                        return Err(invalid(
                            index,
                            instr,
                            "dst",
                            format!("length {}, the matrix has {} rows", dst.len, m.rows),
                        ));
                    }
                }
                Instr::Ewop { func, a, b, dst } => {
                    let srcs: &[(&'static str, Region)] = if func == EwOp::Copy {
                        &[("a", a)]
                    } else {
                        &[("a", a), ("b", b)]
                    };
                    for &(field, r) in srcs {
                        if r.len != dst.len {
                            return Err(invalid(
                                index,
                                instr,
                                field,
                                format!("length {}, dst has {}", r.len, dst.len),
                            ));
                        }
                        if r != dst && r.base < dst.end() && dst.base < r.end() {
                            return Err(invalid(
                                index,
                                instr,
                                field,
                                "overlaps dst without being equal to it".into(),
                            ));
                        }
                    }
                }
                Instr::Act { src, dst, .. } => {
                    if src.len != dst.len {
                        return Err(invalid(
                            index,
                            instr,
                            "src",
                            format!("length {}, dst has {}", src.len, dst.len),
                        ));
                    }
                }
                Instr::Load { .. } | Instr::Store { .. } => {}
            }
            if let Some(d) = instr.writes() {
                written[d.base..d.end()].iter_mut().for_each(|w| *w = true);
            }
        }
        if self.cfg.overlap.units {
            schedule::check(
                &p.instrs,
                &self.accesses(p),
                &p.waits,
                &p.issue,
                self.cfg.overlap.vector_buffers,
                words,
            )?;
            crate::overlap::tables::check(p)?;
        }
        Ok(())
    }

    /// Give a program written without waits (e.g. `load; spmv; store`)
    /// the waits the overlapped machine needs, as the network compiler
    /// does ([`crate::overlap::waits::derive`]); other programs, and every
    /// program of the serialized machine, are left as they are.
    pub fn with_waits(&self, mut p: Program) -> Program {
        if self.cfg.overlap.units && p.waits.is_empty() && !p.instrs.is_empty() {
            p.waits = crate::overlap::waits::derive(
                &self.accesses(&p),
                self.cfg.memory.vector_words,
                self.cfg.overlap.chaining,
                &p.issue,
            );
        }
        p
    }

    /// When each instruction of a validated program touches each element.
    pub fn accesses(&self, p: &Program) -> Vec<Access> {
        p.instrs
            .iter()
            .map(|i| access(&self.cfg, &self.matrices, i))
            .collect()
    }

    /// The cycles of `frames` consecutive frames of a validated program,
    /// without computing any data: what [`Machine::run`] reports frame by
    /// frame, at a fraction of the cost.
    pub fn frame_cycles(&self, p: &Program, frames: usize) -> Vec<u64> {
        if !self.cfg.overlap.units {
            let one = self.serialized_times(p).completion() as u64;
            return vec![one; frames];
        }
        let mut scheduler = Scheduler::new(
            self.accesses(p),
            p.waits.clone(),
            &p.issue,
            self.cfg.overlap.vector_buffers,
        );
        let mut done = 0i64;
        (0..frames)
            .map(|_| {
                let c = scheduler.next_frame().completion();
                let cycles = (c - done) as u64;
                done = c;
                cycles
            })
            .collect()
    }

    /// This frame's times, and the cycles it adds: the serialized machine
    /// from 0; the overlapped one after the frames it already ran.
    fn place_frame(&mut self, p: &Program) -> (FrameTimes, u64) {
        if !self.cfg.overlap.units {
            let cached = matches!(&self.serialized, Some((instrs, _)) if *instrs == p.instrs);
            if !cached {
                let t = self.serialized_times(p);
                self.serialized = Some((p.instrs.clone(), t));
            }
            let t = self.serialized.as_ref().expect("set above").1.clone();
            let c = t.completion() as u64;
            return (t, c);
        }
        let fresh = self
            .overlap
            .as_ref()
            .is_none_or(|o| o.instrs != p.instrs || o.waits != p.waits || o.issue != p.issue);
        if fresh {
            self.overlap = Some(OverlapClock {
                instrs: p.instrs.clone(),
                waits: p.waits.clone(),
                issue: p.issue.clone(),
                scheduler: Scheduler::new(
                    self.accesses(p),
                    p.waits.clone(),
                    &p.issue,
                    self.cfg.overlap.vector_buffers,
                ),
                done: 0,
            });
        }
        let o = self.overlap.as_mut().expect("set above");
        let t = if self.last_of_start {
            o.scheduler.last_frame()
        } else {
            o.scheduler.next_frame()
        };
        let cycles = (t.completion() - o.done) as u64;
        o.done = t.completion();
        (t, cycles)
    }

    /// The serialized machine's times of one frame, from the cycle formulas.
    fn serialized_times(&self, p: &Program) -> FrameTimes {
        schedule::serialized(p.instrs.iter().map(|i| {
            let load = match *i {
                Instr::Spmv { matrix, .. } => {
                    let b = timing::spmv(&self.cfg, &self.matrices[matrix]);
                    b.start + b.load
                }
                _ => 0,
            };
            (load, self.instr_cycles(i).1)
        }))
    }

    /// Start the overlapped machine's frame loop again from cycle 0.
    pub fn restart(&mut self) {
        self.overlap = None;
    }

    /// Write the program's preloaded regions (biases, initial states).
    /// Write `data` into region `r` of the vector memory (as a preloaded
    /// region is written).
    pub fn write_vector(&mut self, r: Region, data: &[i64]) {
        self.vmem[r.base..r.end()].copy_from_slice(data);
    }

    pub fn preload(&mut self, p: &Program) {
        for (r, data) in &p.preloaded {
            self.vmem[r.base..r.end()].copy_from_slice(data);
        }
    }

    /// The unit an instruction keeps busy and its cycles
    /// ([`crate::arch::timing`]); `instr` must have passed [`Machine::validate`].
    pub fn instr_cycles(&self, instr: &Instr) -> (Unit, u64) {
        let cfg = &self.cfg;
        match *instr {
            Instr::Load { dst } => (Unit::Dma, timing::dma(cfg, dst.len)),
            Instr::Store { src } => (Unit::Dma, timing::dma(cfg, src.len)),
            Instr::Spmv { matrix, .. } => {
                (Unit::Pe, timing::spmv_instr(cfg, &self.matrices[matrix]))
            }
            Instr::Ewop { dst, .. } => (Unit::Ewop, timing::elementwise(cfg, dst.len)),
            Instr::Act { dst, .. } => (Unit::Act, timing::elementwise(cfg, dst.len)),
        }
    }

    /// The cycles of one pass of a validated program on the serialized
    /// machine, without computing any data.
    pub fn program_cycles(&self, p: &Program) -> u64 {
        p.instrs.iter().map(|i| self.instr_cycles(i).1).sum()
    }

    /// [`Machine::run`] for the last frame of a start (the RTL's FRAMES
    /// frames, `bbs verify`): on the overlapped machine the frame issues
    /// nothing ahead for a frame after it (the issue lists' epilogue), so
    /// the instructions `overlap.input_ahead` moves into it do not hold up
    /// its own; the next run starts the frame loop again (its prologue).
    pub fn run_last(
        &mut self,
        p: &Program,
        inputs: &mut VecDeque<Vec<i64>>,
    ) -> Result<RunReport, ProgramError> {
        self.last_of_start = true;
        let r = self.run(p, inputs);
        self.last_of_start = false;
        r
    }

    /// Run the program once (validate it first). `Load`s take vectors from
    /// `inputs` in order; `Store`d vectors are returned in the report. The
    /// overlapped machine runs its frames back to back: each call is the
    /// next frame of the same frame loop, until [`Machine::restart`].
    pub fn run(
        &mut self,
        p: &Program,
        inputs: &mut VecDeque<Vec<i64>>,
    ) -> Result<RunReport, ProgramError> {
        let fmt = self.cfg.format();
        let mut macs = 0u64;
        let (times, cycle) = self.place_frame(p);
        let origin = times.origin();
        let mut units = UnitCycles::default();
        let mut timeline = Vec::with_capacity(p.instrs.len());
        let mut outputs = Vec::new();
        for (index, instr) in p.instrs.iter().enumerate() {
            let (unit, cycles) = match *instr {
                Instr::Load { dst } => {
                    let v = inputs.pop_front().ok_or(ProgramError::NoInput { index })?;
                    if v.len() != p.host.load_len(dst.len) {
                        return Err(invalid(
                            index,
                            instr,
                            "dst",
                            format!(
                                "the host sent {} values for a region of {}",
                                v.len(),
                                p.host.load_len(dst.len)
                            ),
                        ));
                    }
                    let v = p.host.load_words(&v);
                    if let Some((i, x)) = v
                        .iter()
                        .enumerate()
                        .find(|(_, &x)| x < fmt.min() || x > fmt.max())
                    {
                        return Err(invalid(
                            index,
                            instr,
                            "dst",
                            format!(
                                "input element {i} = {x} does not fit Q{}.{}",
                                fmt.width, fmt.frac
                            ),
                        ));
                    }
                    self.vmem[dst.base..dst.end()].copy_from_slice(&v);
                    self.instr_cycles(instr)
                }
                Instr::Store { src } => {
                    outputs.push(p.host.store_values(&self.vmem[src.base..src.end()]));
                    self.instr_cycles(instr)
                }
                Instr::Spmv { matrix, src, dst } => {
                    let m = &self.matrices[matrix];
                    // The kernel copies the source before writing any
                    // output, so `src` and `dst` may share addresses.
                    let k = &self.kernels[matrix];
                    if self.cfg.overlap.interleaved {
                        // Column c is at word (c % bank_size) * banks + c / bank_size.
                        let il = Interleave::new(m.cols, self.cfg.banks);
                        let words = &self.vmem[src.base..src.end()];
                        self.gathered.clear();
                        self.gathered.extend((0..m.cols).map(|c| words[il.word(c)]));
                        k.load(&self.gathered, &mut self.scratch)?;
                    } else {
                        k.load(&self.vmem[src.base..src.end()], &mut self.scratch)?;
                    }
                    k.compute(m, &self.scratch, &mut self.vmem[dst.base..dst.end()])?;
                    macs += (m.rows * m.slots * m.banks) as u64;
                    self.instr_cycles(instr)
                }
                Instr::Ewop { func, a, b, dst } => {
                    // In place in `dst`: `a` first copied there (the
                    // validator admits sources equal to `dst` or apart
                    // from it), `b` read where it is, or from a copy
                    // when it is `dst`.
                    let b = if func == EwOp::Copy {
                        Region::new(b.base, 0)
                    } else {
                        b
                    };
                    let b_in_dst = b.len > 0 && b.base < dst.end() && dst.base < b.end();
                    if b_in_dst {
                        self.elementwise.clear();
                        self.elementwise
                            .extend_from_slice(&self.vmem[b.base..b.end()]);
                    }
                    if a != dst {
                        self.vmem.copy_within(a.base..a.end(), dst.base);
                    }
                    let (out, bs) = if b_in_dst {
                        (&mut self.vmem[dst.base..dst.end()], &self.elementwise[..])
                    } else {
                        apart_mut(&mut self.vmem, dst, b)
                    };
                    elementwise::ewop(self.simd, func, fmt, out, bs);
                    self.instr_cycles(instr)
                }
                Instr::Act { func, src, dst } => {
                    // In place in `dst` (copy_within moves overlapping regions whole).
                    if src != dst {
                        self.vmem.copy_within(src.base..src.end(), dst.base);
                    }
                    let x = &mut self.vmem[dst.base..dst.end()];
                    match self.act.table(func) {
                        Some(table) => elementwise::act(self.simd, table, x),
                        None => elementwise::relu(x),
                    }
                    self.instr_cycles(instr)
                }
            };
            match unit {
                Unit::Dma => units.dma += cycles,
                Unit::Pe => units.pe += cycles,
                Unit::Ewop => units.ewop += cycles,
                Unit::Act => units.act += cycles,
            }
            debug_assert!(
                self.cfg.overlap.units || times.end[index] - times.read_at[index] == cycles as i64
            );
            timeline.push(InstrTiming {
                index,
                op: instr.name(),
                unit,
                start: (times.read_at[index] - origin) as u64,
                cycles: (times.end[index] - times.read_at[index]) as u64,
                compute_start: matches!(instr, Instr::Spmv { .. })
                    .then(|| (times.write_at[index] - origin) as u64),
            });
        }
        let slots = (self.cfg.pes * self.cfg.banks) as f64 * cycle.max(1) as f64;
        Ok(RunReport {
            cycles: cycle,
            units,
            macs,
            multiplier_utilization: macs as f64 / slots,
            timeline,
            outputs,
        })
    }
}
