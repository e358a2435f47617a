//! The instruction word: opcodes, func codes and the field layout. The
//! program encoder (`bbs-hdlgen`'s `program.hex`) packs instructions with
//! [`Layout::encode`], the sequencer's template slices the same fields
//! (printed from [`Layout::fields`]) and decodes the same opcodes, and the
//! trace drives the sequencer's outputs with [`InstrFields`].
//!
//! Fields, least significant first (widths from [`super::Widths`]):
//!
//! | field | bits | load | store | spmv | ewop | act |
//! |---|---|---|---|---|---|---|
//! | `op` | 3 | 0 | 1 | 2 | 3 | 4 |
//! | `func` | 2 | | | | add 0, sub 1, mul 2, copy 3 | sigmoid 0, tanh 1 |
//! | `a` | vector address | | src base | src base | a base | src base |
//! | `b` | vector address | | | | b base | |
//! | `d` | vector address | dst base | | dst base | dst base | dst base |
//! | `len` | vector length | len | len | src len (columns) | len | len |
//! | `rows` | rows | | | dst len (rows) | | |
//! | `slots` | slots | | | nonzeros per bank | | |
//! | `bank` | bank size | | | columns per bank | | |
//! | `mat` | matrix address | | | first word in every PE's matrix memory | | |
//!
//! Fields an instruction does not use are 0.

use super::placement::MatrixPlacement;
use super::widths::Widths;
use crate::act::ActFn;
use crate::config::Config;
use crate::isa::{EwOp, Instr};
use bbs_compress::hex::HexWord;

/// The `op` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    Load = 0,
    Store = 1,
    Spmv = 2,
    Ewop = 3,
    Act = 4,
}

impl Opcode {
    /// Bits of the `op` field.
    pub const WIDTH: usize = 3;

    pub fn of(instr: &Instr) -> Opcode {
        match instr {
            Instr::Load { .. } => Opcode::Load,
            Instr::Store { .. } => Opcode::Store,
            Instr::Spmv { .. } => Opcode::Spmv,
            Instr::Ewop { .. } => Opcode::Ewop,
            Instr::Act { .. } => Opcode::Act,
        }
    }

    pub fn code(self) -> u64 {
        self as u64
    }

    /// The `localparam` name in the RTL.
    pub fn rtl_name(self) -> &'static str {
        match self {
            Opcode::Load => "OpLoad",
            Opcode::Store => "OpStore",
            Opcode::Spmv => "OpSpmv",
            Opcode::Ewop => "OpEwop",
            Opcode::Act => "OpAct",
        }
    }
}

/// Bits of the `func` field.
pub const FUNC_WIDTH: usize = 2;

/// The `func` field of an `ewop`.
pub fn ewop_func(f: EwOp) -> u64 {
    match f {
        EwOp::Add => 0,
        EwOp::Sub => 1,
        EwOp::Mul => 2,
        EwOp::Copy => 3,
    }
}

/// The `func` field of an `act`.
pub fn act_func(f: ActFn) -> u64 {
    match f {
        ActFn::Sigmoid => 0,
        ActFn::Tanh => 1,
        ActFn::Relu => 2,
    }
}

/// Bits of the EWOP/ACT unit's operation (`bbs_ewop.op_i`): an `ewop`'s func
/// code (0..=3), or [`UNIT_OP_ACT`] plus an `act`'s func code.
pub const UNIT_OP_WIDTH: usize = 3;
/// The first ACT operation of the EWOP/ACT unit.
pub const UNIT_OP_ACT: u64 = 4;

/// The values of every field for one instruction (0 where unused), as the
/// sequencer decodes them from `instr_q`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstrFields {
    pub op: u64,
    pub func: u64,
    pub a: u64,
    pub b: u64,
    pub d: u64,
    pub len: u64,
    pub rows: u64,
    pub slots: u64,
    pub bank: u64,
    pub mat: u64,
}

impl InstrFields {
    /// `placements[m]`: where matrix `m` lives ([`super::placement::place`]).
    pub fn of(instr: &Instr, placements: &[MatrixPlacement]) -> InstrFields {
        let u = |v: usize| v as u64;
        let op = Opcode::of(instr).code();
        match *instr {
            Instr::Load { dst } => InstrFields {
                op,
                d: u(dst.base),
                len: u(dst.len),
                ..InstrFields::default()
            },
            Instr::Store { src } => InstrFields {
                op,
                a: u(src.base),
                len: u(src.len),
                ..InstrFields::default()
            },
            Instr::Spmv { matrix, src, dst } => {
                let m = &placements[matrix];
                InstrFields {
                    op,
                    a: u(src.base),
                    d: u(dst.base),
                    len: u(src.len),
                    rows: u(dst.len),
                    slots: u(m.slots),
                    bank: u(m.bank_size),
                    mat: u(m.base),
                    ..InstrFields::default()
                }
            }
            Instr::Ewop { func, a, b, dst } => InstrFields {
                op,
                func: ewop_func(func),
                a: u(a.base),
                b: if func == EwOp::Copy { 0 } else { u(b.base) },
                d: u(dst.base),
                len: u(dst.len),
                ..InstrFields::default()
            },
            Instr::Act { func, src, dst } => InstrFields {
                op,
                func: act_func(func),
                a: u(src.base),
                d: u(dst.base),
                len: u(dst.len),
                ..InstrFields::default()
            },
        }
    }

    /// The fields as `(name, value)`, in [`Layout`] order.
    pub fn named(&self) -> [(&'static str, u64); 10] {
        [
            ("op", self.op),
            ("func", self.func),
            ("a", self.a),
            ("b", self.b),
            ("d", self.d),
            ("len", self.len),
            ("rows", self.rows),
            ("slots", self.slots),
            ("bank", self.bank),
            ("mat", self.mat),
        ]
    }
}

/// One field of the instruction word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lsb: usize,
    pub width: usize,
}

impl Field {
    /// The Verilog part-select, e.g. `[12:5]`.
    pub fn range(&self) -> String {
        format!("[{}:{}]", self.lsb + self.width - 1, self.lsb)
    }
}

/// The instruction word's fields, packed least significant first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub fields: Vec<Field>,
    pub width: usize,
}

impl Layout {
    pub fn new(cfg: &Config) -> Layout {
        Layout::from_widths(&Widths::new(cfg))
    }

    /// The layout from already derived widths (the instruction width is not read).
    pub(super) fn from_widths(w: &Widths) -> Layout {
        let widths = [
            ("op", w.op),
            ("func", w.func),
            ("a", w.vaddr),
            ("b", w.vaddr),
            ("d", w.vaddr),
            ("len", w.vlen),
            ("rows", w.rows),
            ("slots", w.slots),
            ("bank", w.vec_words),
            ("mat", w.mat_addr),
        ];
        let mut lsb = 0;
        let fields = widths
            .iter()
            .map(|&(name, width)| {
                let f = Field { name, lsb, width };
                lsb += width;
                f
            })
            .collect();
        Layout { fields, width: lsb }
    }

    pub fn field(&self, name: &str) -> &Field {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .expect("a known field")
    }

    /// The instruction as `width` bits, hex, most significant digit first
    /// (a `$readmemh` line of `program.hex`).
    pub fn encode(&self, fields: &InstrFields) -> String {
        let mut word = HexWord::new(self.width);
        for (f, (name, v)) in self.fields.iter().zip(fields.named()) {
            debug_assert_eq!(f.name, name);
            debug_assert!(f.width >= 64 || v >> f.width == 0, "{name} = {v} overflows");
            word.put(f.lsb, f.width, v);
        }
        word.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Region;

    #[test]
    fn fields_tile_the_word() {
        let l = Layout::new(&Config::default());
        let mut next = 0;
        for f in &l.fields {
            assert_eq!(f.lsb, next, "{}", f.name);
            next += f.width;
        }
        assert_eq!(next, l.width);
        // default: 16384-word vector memory -> 14-bit addresses, 15-bit lengths.
        assert_eq!(l.field("a").width, 14);
        assert_eq!(l.field("len").width, 15);
        assert_eq!(Widths::new(&Config::default()).instr, l.width);
    }

    #[test]
    fn encodes_fields_where_the_layout_says() {
        let l = Layout::new(&Config::default());
        let load = Instr::Load {
            dst: Region::new(3, 5),
        };
        let hex = l.encode(&InstrFields::of(&load, &[]));
        let v = u128::from_str_radix(&hex, 16).unwrap();
        let get = |name: &str| {
            let f = l.field(name);
            (v >> f.lsb) & ((1u128 << f.width) - 1)
        };
        assert_eq!(get("op"), Opcode::Load.code() as u128);
        assert_eq!(get("d"), 3);
        assert_eq!(get("len"), 5);
        assert_eq!(get("a"), 0);
        assert_eq!(hex.len(), l.width.div_ceil(4));
    }

    #[test]
    fn opcodes_and_unit_ops_fit_their_fields() {
        for op in [
            Opcode::Load,
            Opcode::Store,
            Opcode::Spmv,
            Opcode::Ewop,
            Opcode::Act,
        ] {
            assert!(op.code() < 1 << Opcode::WIDTH);
        }
        for f in [EwOp::Add, EwOp::Sub, EwOp::Mul, EwOp::Copy] {
            assert!(ewop_func(f) < 1 << FUNC_WIDTH);
            assert!(
                ewop_func(f) < UNIT_OP_ACT,
                "ewop unit ops sit below the act ones"
            );
        }
        for f in [ActFn::Sigmoid, ActFn::Tanh, ActFn::Relu] {
            assert!(act_func(f) < 1 << FUNC_WIDTH);
            // The unit's op is {1, func}: UNIT_OP_ACT is the top bit alone.
            assert_eq!(UNIT_OP_ACT + act_func(f), UNIT_OP_ACT | act_func(f));
            assert!(UNIT_OP_ACT + act_func(f) < 1 << UNIT_OP_WIDTH);
        }
    }
}
