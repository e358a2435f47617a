//! The report of a named workload run on the accelerator (`bbs sim
//! --workload`): the sequence is simulated frame by frame, checked bit for
//! bit against the plain fixed-point reference, compared with the float
//! reference, costed in FPGA resources ([`super::device`]) and, on request,
//! set beside the dense, unstructured and block baselines on the same
//! hardware ([`super::schemes`]).
//!
//! [`run_workload`] builds a [`WorkloadReport`] (serde, versioned by
//! [`REPORT_VERSION`]); its CSV, summary and Markdown table are in
//! [`super::present`]. Every field is documented in `docs/simulator.md`.

use super::ablation::{ablation, steady_frame, steps, AblationRow};
use super::device::{resources, Resources};
use super::gantt::{frame_spans, Gantt};
use super::schemes::{self, csb_mask, BaselineInput, Baselines, SchemeRow, StallCycles};
use super::{option, published, ReportError};
use crate::arch::placement;
use crate::baselines::{schedule, Scheme, SchemeReport};
use crate::config::Config;
use crate::isa::Instr;
use crate::machine::{Unit, UnitCycles};
use crate::resources::Device;
use crate::rnn::{FloatState, Layer, ReferenceState, SequenceRunner};
use crate::spmv::{spmv_cycles, CycleBreakdown};
use crate::workloads::{self, WorkloadError};
use ndarray::{Array2, CowArray};
use serde::ser::SerializeSeq;
use serde::Serialize;

/// Version of the workload report's layout; bump on any change of its fields.
pub const REPORT_VERSION: u32 = 1;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadOptions {
    /// One of [`workloads::NAMES`].
    pub workload: String,
    /// Fraction of weights pruned, in `[0, 1)`.
    pub sparsity: f64,
    /// Frames of the sequence, at least 1.
    pub frames: usize,
    /// Seed of the weights and of the input frames.
    pub seed: u64,
    /// Also schedule the dense, unstructured and block baselines.
    pub baselines: bool,
    /// Device family of the resource estimate.
    pub device: Device,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            workload: "small-lstm".into(),
            sparsity: 0.875,
            frames: 4,
            seed: 1,
            baselines: false,
            device: Device::IntelM20k,
        }
    }
}

/// The workload that ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadInfo {
    pub name: String,
    /// Requested sparsity (each bank keeps `ceil((1 - s) * bank_size)`).
    pub sparsity: f64,
    pub frames: usize,
    pub seed: u64,
    /// Elements of one input frame and of one output frame.
    pub input: usize,
    pub output: usize,
    /// SpMxV matrices (each runs once per frame).
    pub matrices: usize,
    /// Instructions of the one-frame program.
    pub instructions: usize,
    /// Vector-memory elements the program uses, of `memory.vector_words`.
    pub vector_words_used: usize,
    /// Matrix-memory words per PE all matrices take, of `matrix_depth` (`ceil(max_rows / pes) * max_slots`).
    pub matrix_words_per_pe: usize,
    pub matrix_depth: usize,
    /// Stored CSB weights of all matrices, `sum rows * slots * banks` (padding slots included).
    pub stored_weights: usize,
}

/// One SpMxV of a layer, as simulated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpmvInfo {
    /// Matrix number in the program (as [`crate::rnn::Network::matrices`]).
    pub matrix: usize,
    pub name: String,
    /// Index of the `spmv` instruction in the one-frame program.
    pub instruction: usize,
    pub rows: usize,
    pub cols: usize,
    pub banks: usize,
    pub bank_size: usize,
    pub slots: usize,
    pub stored_weights: usize,
    /// Cycles by phase; with `memory.matrix = "dram"` the compute phase
    /// includes waiting for the matrix stream.
    pub cycles: CycleBreakdown,
    /// `stored_weights / (pes * banks * cycles.total)`.
    pub utilization: f64,
    /// `stored_weights / (pes * banks)`.
    pub compute_bound: f64,
    /// Where the multiplier-slots go (the on-chip BBS schedule, [`crate::baselines`]).
    pub stalls: crate::baselines::StallBreakdown,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    /// `lstm` or `gru`.
    pub kind: &'static str,
    pub input: usize,
    pub hidden: usize,
    pub output: usize,
    pub spmv: Vec<SpmvInfo>,
}

/// One frame on the accelerator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameReport {
    pub frame: usize,
    pub cycles: u64,
    /// `cycles / host.clock_mhz`.
    pub microseconds: f64,
    /// Cycles each unit was busy (instructions run one after another, so they sum to `cycles`).
    pub units: UnitCycles,
    /// Multiply-accumulates on stored weights.
    pub macs: u64,
    /// `macs / (pes * banks * cycles)`.
    pub multiplier_utilization: f64,
}

/// Every frame's report, kept as runs of consecutive frames whose reports
/// are the same but for their number (every frame runs the same program, so
/// there is one run): serialized as the list of every frame, in memory that
/// does not grow with the frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frames {
    /// (first frame, frames, the first frame's report).
    runs: Vec<(usize, usize, FrameReport)>,
    len: usize,
}

impl Frames {
    /// Frames reported.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frame 0's report.
    pub fn first(&self) -> Option<&FrameReport> {
        self.runs.first().map(|r| &r.2)
    }

    /// Every frame's report, in order.
    pub fn iter(&self) -> impl Iterator<Item = FrameReport> + '_ {
        self.runs.iter().flat_map(|(start, n, r)| {
            (*start..start + n).map(move |frame| FrameReport { frame, ..r.clone() })
        })
    }

    /// Add the next frame's report (its `frame` is the next number).
    pub fn push(&mut self, r: FrameReport) {
        debug_assert_eq!(r.frame, self.len);
        match self.runs.last_mut() {
            Some((_, n, last))
                if FrameReport {
                    frame: r.frame,
                    ..last.clone()
                } == r =>
            {
                *n += 1
            }
            _ => self.runs.push((r.frame, 1, r)),
        }
        self.len += 1;
    }
}

impl Serialize for Frames {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len))?;
        for f in self.iter() {
            seq.serialize_element(&f)?;
        }
        seq.end()
    }
}

/// One instruction of frame 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub index: usize,
    pub op: &'static str,
    pub unit: Unit,
    pub start: u64,
    pub cycles: u64,
    /// Fraction of the PE array's multipliers busy during the instruction
    /// (`stored_weights / (pes * banks * cycles)` for `spmv`, 0 otherwise).
    pub pe_utilization: f64,
}

/// The accelerator's outputs against the references.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accuracy {
    /// Always true in a report: a mismatch is an error.
    pub bit_exact: bool,
    /// Output values compared (frames x output).
    pub values: usize,
    /// `max |fixed / 2^F - float|` against [`crate::rnn::float_sequence`].
    pub max_abs_error: f64,
    /// Mean of `|fixed / 2^F - float|`.
    pub mean_abs_error: f64,
    /// One LSB, `2^-F`.
    pub lsb: f64,
}

/// The whole report; see `docs/simulator.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadReport {
    pub report_version: u32,
    pub bbs_version: &'static str,
    pub config_name: String,
    pub config: Config,
    pub workload: WorkloadInfo,
    pub layers: Vec<LayerInfo>,
    /// Every frame (each runs the same program, so the same cycles).
    pub frames: Frames,
    /// `sum stored_weights / (pes * banks)`: SpMxV cycles per frame at full utilization.
    pub compute_bound_cycles: f64,
    /// One frame in the steady state: the interval between frames once they
    /// follow one another (frame 0's cycles on the serialized machine, where
    /// frames do not overlap).
    pub steady_frame: AblationRow,
    /// The steady-state frame serialized, then with each overlap technique
    /// added ([`super::ablation`]); only the serialized row when the
    /// matrices stream from DRAM.
    pub ablation: Vec<AblationRow>,
    /// Frame 0, instruction by instruction.
    pub timeline: Vec<TimelineEntry>,
    pub resources: Resources,
    pub accuracy: Accuracy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Baselines>,
    /// The on-chip BBS schedule of each matrix (the `bbs` rows of `layers.csv`).
    #[serde(skip)]
    pub bbs_rows: Vec<SchemeRow>,
    /// Frame 0 as a Gantt chart, one lane per unit (`timeline.svg`, drawn by
    /// [`super::gantt::render_svg`]); not in `report.json`, whose `timeline`
    /// holds the same instructions.
    #[serde(skip)]
    pub gantt: Gantt,
}

/// A report and the accelerator's fixed-point output of the last frame
/// (frames stream through the run: each is checked, then dropped).
#[derive(Clone, Debug)]
pub struct WorkloadRun {
    pub report: WorkloadReport,
    pub last_output: Vec<i64>,
}

fn check_options(opts: &WorkloadOptions) -> Result<(), ReportError> {
    if !workloads::NAMES.contains(&opts.workload.as_str()) {
        return Err(WorkloadError::Unknown(opts.workload.clone()).into());
    }
    if !opts.sparsity.is_finite() || !(0.0..1.0).contains(&opts.sparsity) {
        return Err(option(
            "sparsity",
            format!("{} is outside [0, 1)", opts.sparsity),
        ));
    }
    if opts.frames == 0 {
        return Err(option("frames", "0 must be at least 1".into()));
    }
    if opts.frames > workloads::MAX_FRAMES {
        return Err(option(
            "frames",
            format!(
                "{} is more than {} (the most one run simulates)",
                opts.frames,
                workloads::MAX_FRAMES
            ),
        ));
    }
    Ok(())
}

/// Run a named workload and build its report. Errors: bad options (naming
/// the option), a configuration that cannot hold the workload (naming the
/// field), outputs that are not bit-exact against the fixed-point reference.
pub fn run_workload(cfg: &Config, opts: &WorkloadOptions) -> Result<WorkloadRun, ReportError> {
    check_options(opts)?;
    cfg.validate()?;
    let (net, dense) =
        workloads::network_with_weights(&opts.workload, cfg, opts.sparsity, opts.seed)?;
    // The program the machine runs: on the overlapped machine its gate rows
    // are reordered into cell blocks (`compiled.matrices`); the report's
    // matrices, masks and baselines stay in the network's own row order.
    let compiled = net.compile(cfg)?;
    let program = &compiled.program;
    let steady = AblationRow {
        step: steps()
            .into_iter()
            .find(|(_, o)| o.same_techniques(&cfg.overlap))
            .map_or("this configuration", |(step, _)| step),
        ..steady_frame(cfg, &cfg.overlap, &opts.workload, opts.sparsity, opts.seed)?
    };
    let ablation = if cfg.memory.matrix == crate::config::MatrixStorage::Dram {
        // The overlapped machine keeps its matrices on chip: only the
        // serialized row applies.
        let (step, serialized) = steps().swap_remove(0);
        vec![AblationRow {
            step,
            ..steady_frame(cfg, &serialized, &opts.workload, opts.sparsity, opts.seed)?
        }]
    } else {
        ablation(cfg, &opts.workload, opts.sparsity, opts.seed)?
    };
    // Frame by frame, in constant memory: the accelerator, checked bit for
    // bit against the plain fixed-point reference, then against float.
    let mhz = cfg.host.clock_mhz as f64;
    let lsb = 1.0 / (1i64 << cfg.frac_bits) as f64;
    let mut runner = SequenceRunner::new(cfg, &net)?;
    let mut reference = ReferenceState::new(cfg, &net);
    let mut float = FloatState::new(cfg, &net);
    let (mut values, mut max_abs_error, mut sum_abs_error) = (0usize, 0.0f64, 0.0f64);
    let mut frames_report = Frames::default();
    let mut first = None;
    let mut last_output = Vec::new();
    let inputs = workloads::frame_stream(cfg, net.input(), opts.seed).take(opts.frames);
    for (frame, input) in inputs.enumerate() {
        let (got, r) = runner.step(input.clone())?;
        let want = reference.step(&input);
        if let Some((index, (&g, &w))) =
            got.iter().zip(&want).enumerate().find(|(_, (g, w))| g != w)
        {
            return Err(ReportError::Mismatch {
                frame,
                index,
                got: g,
                expected: w,
            });
        }
        for (&q, &f) in got.iter().zip(&float.step(&input)) {
            let e = (q as f64 * lsb - f).abs();
            max_abs_error = max_abs_error.max(e);
            sum_abs_error += e;
            values += 1;
        }
        frames_report.push(FrameReport {
            frame,
            cycles: r.cycles,
            microseconds: r.cycles as f64 / mhz,
            units: r.units.clone(),
            macs: r.macs,
            multiplier_utilization: r.multiplier_utilization,
        });
        if frame == 0 {
            first = Some(r);
        }
        last_output = got;
    }
    let accuracy = Accuracy {
        bit_exact: true,
        values,
        max_abs_error,
        mean_abs_error: sum_abs_error / values.max(1) as f64,
        lsb,
    };

    let slots = (cfg.pes * cfg.banks) as f64;
    let matrices = net.matrices();
    // The spmv instructions of each of the network's matrices (the
    // overlapped machine may run one matrix's rows in two pieces).
    let mut spmv_of: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, instr) in program.instrs.iter().enumerate() {
        if let Instr::Spmv { matrix, .. } = instr {
            let source = compiled.source[*matrix];
            match spmv_of.iter_mut().find(|(m, _)| *m == source) {
                Some((_, instrs)) => instrs.push(i),
                None => spmv_of.push((source, vec![i])),
            }
        }
    }
    let frame0 = &first.expect("at least one frame (checked)");
    let masks: Vec<Array2<bool>> = matrices.iter().map(csb_mask).collect();
    let bbs: Vec<SchemeReport> = masks
        .iter()
        .zip(&dense)
        .map(|(m, d)| {
            schedule(cfg, &m.view(), Scheme::Bbs).map_err(|source| ReportError::Baseline {
                matrix: d.name.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;

    let mut spmv_infos: Vec<SpmvInfo> = spmv_of
        .iter()
        .map(|(matrix, instrs)| {
            let (matrix, instruction) = (*matrix, instrs[0]);
            let m = &matrices[matrix];
            // The instructions' own cycles: with `memory.matrix = "dram"`
            // the compute phase also waits for the matrix stream.
            let total: u64 = instrs.iter().map(|&i| frame0.timeline[i].cycles).sum();
            let CycleBreakdown {
                start, load, drain, ..
            } = spmv_cycles(cfg, m);
            let stored_weights = m.nnz_slots();
            SpmvInfo {
                matrix,
                name: dense[matrix].name.clone(),
                instruction,
                rows: m.rows,
                cols: m.cols,
                banks: m.banks,
                bank_size: m.bank_size,
                slots: m.slots,
                stored_weights,
                // On the overlapped machine `total` also holds the waits
                // between the vector load and the first compute cycle.
                cycles: CycleBreakdown::new(
                    start,
                    load,
                    total.saturating_sub(start + load + drain),
                    drain,
                ),
                utilization: stored_weights as f64 / (slots * total as f64),
                compute_bound: stored_weights as f64 / slots,
                stalls: bbs[matrix].stalls.clone(),
            }
        })
        .collect();
    spmv_infos.sort_by_key(|s| s.matrix);
    let mut layers = Vec::new();
    let mut next = spmv_infos.into_iter();
    for (index, layer) in net.layers.iter().enumerate() {
        let (kind, hidden, count) = match layer {
            Layer::Lstm(l) => ("lstm", l.hidden, 2 + l.proj.is_some() as usize),
            Layer::Gru(g) => ("gru", g.hidden, 2),
            Layer::Dense(d) => ("dense", d.w.rows, 1),
        };
        layers.push(LayerInfo {
            index,
            kind,
            input: layer.input(),
            hidden,
            output: layer.output(),
            spmv: next.by_ref().take(count).collect(),
        });
    }

    let stored_weights: usize = matrices.iter().map(|m| m.nnz_slots()).sum();
    let matrix_words_per_pe = placement::total_words(cfg, &matrices);
    let vector_words_used = program
        .preloaded
        .iter()
        .map(|(r, _)| r.end())
        .chain(
            program
                .instrs
                .iter()
                .filter_map(|i| i.writes().map(|r| r.end())),
        )
        .max()
        .unwrap_or(0);
    let workload = WorkloadInfo {
        name: opts.workload.clone(),
        sparsity: opts.sparsity,
        frames: opts.frames,
        seed: opts.seed,
        input: net.input(),
        output: net.output(),
        matrices: matrices.len(),
        instructions: program.instrs.len(),
        vector_words_used,
        matrix_words_per_pe,
        matrix_depth: cfg.matrix_depth(),
        stored_weights,
    };

    let timeline = frame0
        .timeline
        .iter()
        .map(|t| TimelineEntry {
            index: t.index,
            op: t.op,
            unit: t.unit,
            start: t.start,
            cycles: t.cycles,
            pe_utilization: match program.instrs[t.index] {
                Instr::Spmv { matrix, .. } => {
                    compiled.matrices[matrix].nnz_slots() as f64 / (slots * t.cycles.max(1) as f64)
                }
                _ => 0.0,
            },
        })
        .collect();

    let matrix_names: Vec<String> = dense.iter().map(|d| d.name.clone()).collect();
    let gantt = Gantt::from_spans(
        format!(
            "{} on '{}': frame 0, one lane per unit",
            opts.workload, cfg.name
        ),
        frame0.cycles,
        mhz,
        frame_spans(
            cfg,
            &program.instrs,
            &compiled.matrices,
            &matrix_names,
            &frame0.timeline,
        ),
    );

    let resources = resources(cfg, opts.device)?;

    let baselines = if opts.baselines {
        let inputs =
            masks
                .iter()
                .zip(&dense)
                .zip(&bbs)
                .enumerate()
                .map(|(index, ((mask, d), bbs))| BaselineInput {
                    index,
                    name: &d.name,
                    mask,
                    weights: CowArray::from(d.weights.view()),
                    bbs,
                });
        let other_cycles = frame0.cycles - frame0.units.pe;
        Some(schemes::baselines(
            cfg,
            opts.device,
            &resources,
            inputs,
            other_cycles,
            published::for_workload(&opts.workload),
        )?)
    } else {
        None
    };

    let report = WorkloadReport {
        report_version: REPORT_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION"),
        config_name: cfg.name.clone(),
        config: cfg.clone(),
        workload,
        layers,
        frames: frames_report,
        compute_bound_cycles: stored_weights as f64 / slots,
        steady_frame: steady,
        ablation,
        timeline,
        resources,
        accuracy,
        baselines,
        bbs_rows: bbs.iter().map(SchemeRow::new).collect(),
        gantt,
    };
    Ok(WorkloadRun {
        report,
        last_output,
    })
}

impl WorkloadReport {
    /// Each scheme's SpMxV time over one frame, split into its parts: every
    /// scheme with baselines, else `bbs` alone.
    pub fn stall_bars(&self) -> Vec<(String, StallCycles)> {
        match &self.baselines {
            Some(b) => b
                .frame
                .iter()
                .map(|f| (b.label(f.scheme), f.stalls.clone()))
                .collect(),
            None => vec![(
                Scheme::Bbs.label().to_string(),
                StallCycles::sum(
                    &self.config,
                    self.bbs_rows.iter().map(|r| (r.nnz, &r.stalls)),
                ),
            )],
        }
    }

    /// Cycles of frame 0 (from its first instruction to its last; every
    /// frame runs the same program).
    pub fn frame_cycles(&self) -> u64 {
        self.frames.first().map_or(0, |f| f.cycles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::abs_diff_eq;

    #[test]
    fn bbs_baseline_equals_the_simulated_frame_on_chip() {
        let cfg = Config::default();
        let opts = WorkloadOptions {
            workload: "small-gru".into(),
            frames: 2,
            baselines: true,
            ..WorkloadOptions::default()
        };
        let run = run_workload(&cfg, &opts).unwrap();
        let r = &run.report;
        let b = r.baselines.as_ref().unwrap();
        assert_eq!(b.frame[0].scheme, "bbs");
        assert_eq!(b.frame[0].cycles, r.frame_cycles());
        for l in &r.layers {
            for s in &l.spmv {
                assert_eq!(b.matrices[s.matrix].schemes[0].cycles, s.cycles.total);
                // Unstructured keeps exactly as many nonzeros as BBS.
                assert_eq!(
                    b.matrices[s.matrix].schemes[2].mask_nnz,
                    b.matrices[s.matrix].schemes[0].mask_nnz
                );
            }
        }
        // The six parts of each scheme's SpMxV time add up to it.
        for f in &b.frame {
            let s = &f.stalls;
            let sum = s.useful
                + s.bank_conflict
                + s.load_imbalance
                + s.underfill
                + s.vector_load
                + s.pipeline;
            assert!(
                abs_diff_eq!(sum, f.spmv_cycles as f64, epsilon = 1e-6),
                "{f:?}"
            );
        }
        // Without baselines the CSV has the same bbs rows.
        let plain = run_workload(
            &cfg,
            &WorkloadOptions {
                baselines: false,
                ..opts
            },
        )
        .unwrap();
        let bbs_lines = |csv: &str| -> Vec<String> {
            csv.lines()
                .filter(|l| l.split(',').nth(3) == Some("bbs"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(bbs_lines(&plain.report.to_csv()), bbs_lines(&r.to_csv()));
    }

    #[test]
    fn frames_are_kept_as_runs_and_listed_whole() {
        let cfg = Config::default();
        let opts = WorkloadOptions {
            workload: "small-gru".into(),
            frames: 30,
            ..WorkloadOptions::default()
        };
        let r = run_workload(&cfg, &opts).unwrap().report;
        // Every frame runs the same program: one run, whatever the frames.
        assert_eq!(r.frames.runs.len(), 1);
        assert_eq!(r.frames.len(), 30);
        let listed: Vec<FrameReport> = r.frames.iter().collect();
        assert!(listed.iter().enumerate().all(|(i, f)| f.frame == i));
        assert_eq!(
            serde_json::to_value(&r.frames).unwrap(),
            serde_json::to_value(&listed).unwrap()
        );
        // A frame that differs starts a run of its own.
        let mut frames = Frames::default();
        for (i, cycles) in [5, 5, 6, 5].into_iter().enumerate() {
            frames.push(FrameReport {
                frame: i,
                cycles,
                ..listed[0].clone()
            });
        }
        assert_eq!(frames.runs.len(), 3);
        let cycles: Vec<u64> = frames.iter().map(|f| f.cycles).collect();
        assert_eq!(cycles, [5, 5, 6, 5]);
    }

    #[test]
    fn options_are_checked() {
        let cfg = Config::default();
        for (opts, needle) in [
            (
                WorkloadOptions {
                    workload: "nope".into(),
                    ..WorkloadOptions::default()
                },
                "workload",
            ),
            (
                WorkloadOptions {
                    frames: 0,
                    ..WorkloadOptions::default()
                },
                "frames",
            ),
            (
                WorkloadOptions {
                    frames: workloads::MAX_FRAMES + 1,
                    ..WorkloadOptions::default()
                },
                "frames",
            ),
            (
                WorkloadOptions {
                    sparsity: 1.0,
                    ..WorkloadOptions::default()
                },
                "sparsity",
            ),
        ] {
            let err = run_workload(&cfg, &opts).unwrap_err().to_string();
            assert!(err.starts_with(needle), "{err}");
        }
    }
}
