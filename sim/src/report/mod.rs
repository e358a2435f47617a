//! The reports of `bbs sim --workload` and `bbs sim --model`, one concept a
//! file:
//!
//! | module        | holds |
//! |---------------|-------|
//! | [`workload`]  | [`run_workload`] and [`WorkloadReport`]: a named workload simulated frame by frame, checked bit for bit, costed |
//! | [`model`]     | [`run_model`] and [`ModelReport`]: every layer of a pruned model run once as one SpMxV |
//! | [`schemes`]   | the `baselines` section both reports share: BBS beside dense, unstructured and block on the same hardware |
//! | [`device`]    | the `resources` section both reports share: the estimate on a device, checked against its budget |
//! | [`published`] | figures from papers set beside our numbers |
//! | [`gantt`]     | the timeline picture of one frame: [`Gantt`], one lane per unit, built from [`LaneSpan`]s ([`frame_spans`]), drawn by [`render_svg`] (`timeline.svg`) |
//! | [`present`]   | what a person reads: `layers.csv`, the summaries, the Markdown tables (and [`csv_string`], the one CSV writer) |
//!
//! The reports are plain serde data (`report.json`); every field is
//! documented in `docs/simulator.md`. Everything is re-exported here, so
//! callers name `bbs_sim::report::X` and never the file an item lives in.

pub mod ablation;
pub mod device;
pub mod gantt;
pub mod model;
pub mod present;
pub mod published;
pub mod schemes;
pub mod workload;

pub use device::{device_budget, resources, Resources};
pub use gantt::{
    frame_spans, instr_label, instr_spans, render_svg, Gantt, GanttLane, GanttSpan, Lane, LaneSpan,
};
pub use model::{
    model_input, run_model, ModelInfo, ModelLayer, ModelLayerInput, ModelOptions, ModelReport,
    ModelRun, ModelTotal, SkippedLayer, MODEL_REPORT_VERSION,
};
pub use present::{csv_string, CSV_COLUMNS};
pub use published::{Published, ESE_PUBLISHED_US};
pub use schemes::{
    csb_mask, Baselines, MatrixBaselines, SchemeFrame, SchemeRow, StallCycles, BLOCK_SIZE,
};
pub use workload::{
    run_workload, Accuracy, FrameReport, Frames, LayerInfo, SpmvInfo, TimelineEntry, WorkloadInfo,
    WorkloadOptions, WorkloadReport, WorkloadRun, REPORT_VERSION,
};

use crate::baselines::BaselineError;
use crate::config::ConfigError;
use crate::rnn::NetworkError;
use crate::workloads::WorkloadError;

/// Why a report could not be built (either report).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{field}: {message}")]
    Option {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("{matrix}: {source}")]
    Baseline {
        matrix: String,
        source: BaselineError,
    },
    #[error("{matrix}: {source}")]
    Prune {
        matrix: String,
        source: bbs_compress::Error,
    },
    /// A model layer the configuration cannot hold.
    #[error("layer {layer}: {error}")]
    Unfit { layer: String, error: ConfigError },
    #[error("frame {frame}, output {index}: the accelerator gave {got}, the fixed-point reference {expected} (not bit-exact)")]
    Mismatch {
        frame: usize,
        index: usize,
        got: i64,
        expected: i64,
    },
}

/// A bad option, named.
fn option(field: &'static str, message: String) -> ReportError {
    ReportError::Option { field, message }
}
