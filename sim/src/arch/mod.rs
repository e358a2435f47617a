//! The machine, described once: everything the simulator, the trace, the
//! resource estimate, the program encoder and the Verilog templates must
//! agree on about the hardware, derived from a [`Config`](crate::Config) in
//! one place each.
//!
//! | module | owns |
//! |---|---|
//! | [`widths`] | every register, port and field width of the RTL |
//! | [`encoding`] | the instruction word: opcodes, func codes, field layout |
//! | [`fsm`] | the state encodings of the sequencer and the SpMxV controller |
//! | [`host`] | the host's register map |
//! | [`placement`] | where matrices sit in the PEs' matrix memories, and the vector memory's banks and ports |
//! | [`timing`] | the cycle formulas of every instruction |
//!
//! Data flows one way: the configuration is the input, this module derives
//! from it, and its readers print or simulate what it says. When the machine
//! changes (a new unit, a new field, a new overlap rule), it changes here
//! first; `docs/architecture.md` cites these formulas.

pub mod encoding;
pub mod fsm;
pub mod host;
pub mod interleave;
pub mod placement;
pub mod timing;
pub mod widths;

pub use encoding::{Field, InstrFields, Layout, Opcode};
pub use fsm::{CtrlState, SeqState};
pub use host::HostReg;
pub use interleave::{HostLayout, Interleave};
pub use placement::{MatrixPlacement, VectorMemory};
pub use timing::CycleBreakdown;
pub use widths::Widths;
