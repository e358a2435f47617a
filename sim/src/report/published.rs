//! Figures from papers, set beside the simulated numbers in a report's
//! table of schemes. Each is quoted with its source; none is computed here.

use serde::Serialize;

/// ESE's published latency of one frame of its LSTM (Han et al., "ESE:
/// Efficient Speech Recognition Engine with Sparse LSTM on FPGA", FPGA 2017).
pub const ESE_PUBLISHED_US: f64 = 82.7;

/// A published result to set beside the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Published {
    pub source: &'static str,
    pub microseconds: f64,
}

/// The published frame latency of a named workload, if a paper gives one
/// (only `ese-lstm`, ESE's own LSTM).
pub fn for_workload(workload: &str) -> Option<Published> {
    (workload == "ese-lstm").then_some(Published {
        source: "ESE, published (Han et al., FPGA 2017; Xilinx XCKU060 at 200 MHz)",
        microseconds: ESE_PUBLISHED_US,
    })
}
