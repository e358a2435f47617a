//! The host's register block (`bbs_regs`): 32-bit registers at word
//! addresses. The template prints the addresses from [`HostReg::ALL`], and
//! the testbench drives the same ones.

/// A register of `bbs_regs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HostReg {
    /// W: bit 0 starts the program (ignored while busy).
    Ctrl = 0,
    /// R: bit 0 busy, bit 1 done.
    Status = 1,
    /// RW: instructions in the program.
    Ninstr = 2,
    /// R: the instruction being executed.
    Pc = 3,
    /// R: cycles of the current or last run, the start cycle included.
    Cycles = 4,
    /// R: `{pes[15:0], banks[15:0]}`.
    Id = 5,
    /// RW, the overlapped machine only: frames one start runs (the program
    /// is a frame loop whose frames overlap; the serialized machine runs
    /// one frame per start).
    Frames = 6,
}

impl HostReg {
    /// Bits of a register address.
    pub const ADDR_WIDTH: usize = 3;
    /// The serialized machine's registers (the overlapped one adds [`HostReg::Frames`]).
    pub const ALL: [HostReg; 6] = [
        HostReg::Ctrl,
        HostReg::Status,
        HostReg::Ninstr,
        HostReg::Pc,
        HostReg::Cycles,
        HostReg::Id,
    ];

    pub fn addr(self) -> u64 {
        self as u64
    }

    /// The `localparam` name in the RTL.
    pub fn rtl_name(self) -> &'static str {
        match self {
            HostReg::Ctrl => "AddrCtrl",
            HostReg::Status => "AddrStatus",
            HostReg::Ninstr => "AddrNinstr",
            HostReg::Pc => "AddrPc",
            HostReg::Cycles => "AddrCycles",
            HostReg::Id => "AddrId",
            HostReg::Frames => "AddrFrames",
        }
    }
}
