//! The accelerator configuration and its cycle-approximate simulator.
//!
//! The simulator is the executable specification of the generated hardware:
//! `bbs-hdlgen` takes the same [`Config`] and the RTL must reproduce
//! [`simulate_spmv`]'s outputs bit for bit and its cycle count.

pub mod arith;
pub mod config;
pub mod reference;
pub mod spmv;

pub use config::{Config, ConfigError, Pipeline};
pub use spmv::{simulate_spmv, CycleBreakdown, PeStats, SimError, SimReport, SpmvRun};
