//! The `bbs` program's shared steps, used by the command line and the
//! end-to-end tests: weights -> pruning -> CSB -> simulator / generator ->
//! Verilator co-simulation.

pub mod accuracy;
pub mod cli;
pub mod demo;
pub mod flow;
pub mod layers;
pub mod model_compile;
pub mod model_prune;
pub mod patterns;
pub mod print;
pub mod report;
pub mod sim_cmd;
pub mod sweep;
