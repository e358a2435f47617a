//! The state encodings of the machine's two state machines: the sequencer
//! (`bbs_seq`) and the PE array's SpMxV controller (`bbs_ctrl`). The
//! templates print their `localparam`s from [`SeqState::ALL`] and
//! [`CtrlState::ALL`]; the trace steps the same states and dumps the same
//! `state_q` values.

/// `state_q` of `bbs_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SeqState {
    Idle = 0,
    Fetch = 1,
    Load = 2,
    Store = 3,
    Spmv = 4,
    Issue = 5,
    Wait = 6,
    Done = 7,
}

impl SeqState {
    /// Bits of `bbs_seq.state_q`.
    pub const WIDTH: usize = 4;
    pub const ALL: [SeqState; 8] = [
        SeqState::Idle,
        SeqState::Fetch,
        SeqState::Load,
        SeqState::Store,
        SeqState::Spmv,
        SeqState::Issue,
        SeqState::Wait,
        SeqState::Done,
    ];

    /// The `localparam` name in the RTL.
    pub fn rtl_name(self) -> &'static str {
        match self {
            SeqState::Idle => "StIdle",
            SeqState::Fetch => "StFetch",
            SeqState::Load => "StLoad",
            SeqState::Store => "StStore",
            SeqState::Spmv => "StSpmv",
            SeqState::Issue => "StIssue",
            SeqState::Wait => "StWait",
            SeqState::Done => "StDone",
        }
    }
}

/// `state_q` of `bbs_ctrl`: IDLE -> LOAD -> COMPUTE -> DRAIN -> DONE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CtrlState {
    Idle = 0,
    Load = 1,
    Compute = 2,
    Drain = 3,
    Done = 4,
}

impl CtrlState {
    /// Bits of `bbs_ctrl.state_q`.
    pub const WIDTH: usize = 3;
    pub const ALL: [CtrlState; 5] = [
        CtrlState::Idle,
        CtrlState::Load,
        CtrlState::Compute,
        CtrlState::Drain,
        CtrlState::Done,
    ];

    /// The `localparam` name in the RTL.
    pub fn rtl_name(self) -> &'static str {
        match self {
            CtrlState::Idle => "StIdle",
            CtrlState::Load => "StLoad",
            CtrlState::Compute => "StCompute",
            CtrlState::Drain => "StDrain",
            CtrlState::Done => "StDone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_distinct_and_fit_their_width() {
        for (i, s) in SeqState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert!((*s as usize) < 1 << SeqState::WIDTH);
        }
        for (i, s) in CtrlState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert!((*s as usize) < 1 << CtrlState::WIDTH);
        }
    }
}
