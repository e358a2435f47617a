//! The accelerator configuration and its cycle-approximate simulator.
//!
//! The simulator is the executable specification of the generated hardware:
//! `bbs-hdlgen` takes the same [`Config`] and the RTL must reproduce
//! [`simulate_spmv`]'s outputs bit for bit and its cycle count.

pub mod act;
pub mod arch;
pub mod arith;
pub mod baselines;
pub mod config;
pub mod elementwise;
pub mod isa;
pub mod kernel;
pub mod machine;
pub mod overlap;
pub mod reference;
pub mod report;
pub mod resources;
pub mod rnn;
pub mod spmv;
pub mod trace;
pub mod workloads;

pub use baselines::{
    compare, schedule, schedule_block, BaselineError, Scheme, SchemeReport, StallBreakdown,
};
pub use config::{
    Config, ConfigError, Ewop, Host, MatrixStorage, Memory, Overlap, Pipeline, RegionWords,
};
pub use resources::{
    check_budget, estimate, Budget, BudgetError, Device, MemoryEstimate, ResourceEstimate,
};
pub use spmv::{simulate_spmv, spmv_cycles, CycleBreakdown, PeStats, SimError, SimReport, SpmvRun};
