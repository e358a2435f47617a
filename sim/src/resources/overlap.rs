//! What the overlapped machine (`overlap.units`, `templates/overlap/`) adds
//! to the estimate: its vector memory in one part per writer, the issue
//! lists, the wait table and start-cycle tables, and the issue stage's logic
//! (list walkers, hazard lookups, the units' run counters).
//!
//! | memory | RTL | instances | depth | width | read ports |
//! |---|---|---|---|---|---|
//! | `vector_<writer>` | `bbs_vmem.v` part | N banks | `ceil(part words / N)` | W | runs combinational |
//! | `vector_<writer>_loaded` | the part's words the vector load reads | N banks | `ceil(words / N)` | W | runs + K combinational |
//!
//! With `overlap.interleaved` the vector load is one more run port and no
//! part has load ports (nor a `_loaded` memory of its own).
//! | `issue_list` | `bbs_issue.v` `list_q` | units | `3 + 3 * instruction_words` | 16 | 4 combinational (3 lengths, the head) |
//! | `wait_table` | `bbs_waits.v` `waits_q` | 1 | `instruction_words` | `MAX_WAITS * entry` | units |
//! | `start_cycles` | `bbs_waits.v` `stamp_q` | units | `2 * instruction_words` | `STAMP_WIDTH + 2` | units * `MAX_WAITS` |
//!
//! The logic coefficients were measured with Yosys 0.23 `synth_xilinx` on
//! the overlapped mini (docs/synthesis.md).

use super::{memory, mux_luts, BlockEstimate, Device, MemSpec, MemoryEstimate, Read};
use crate::arch::{VectorMemory, Widths};
use crate::config::{Config, ConfigError};
use crate::overlap::regions::{BankedPart, Writer};
use crate::overlap::tables::{self, MAX_WAITS, STAMP_WIDTH};

/// The overlapped machine's sizes the estimate needs.
pub(super) struct Overlapped<'a> {
    cfg: &'a Config,
    /// The vector memory's parts, each writer's split in the words the
    /// vector load reads and the rest.
    parts: Vec<BankedPart>,
    /// Writers (write groups, each with its lanes' rotation).
    writers: usize,
    /// Units with an issue list.
    units: usize,
    /// Run read ports of the vector memory: EWOP a, EWOP b, store (and
    /// ACT, and the vector load with `overlap.interleaved`).
    runs: usize,
    /// Load ports of the strided vector load: `banks` (0 with
    /// `overlap.interleaved`, whose load is a run port).
    load_ports: usize,
}

impl<'a> Overlapped<'a> {
    pub(super) fn new(cfg: &'a Config) -> Result<Overlapped<'a>, ConfigError> {
        let regions = crate::overlap::regions::WriterRegions::new(cfg)?;
        Ok(Overlapped {
            cfg,
            parts: regions.banked(),
            writers: regions.parts.len(),
            units: tables::issue_units(cfg).len(),
            runs: 3 + usize::from(cfg.overlap.act_unit) + usize::from(cfg.overlap.interleaved),
            load_ports: if cfg.overlap.interleaved {
                0
            } else {
                cfg.banks
            },
        })
    }

    /// Words of `w`'s whole part.
    fn part_len(&self, w: Writer) -> usize {
        self.parts
            .iter()
            .filter(|p| p.writer == w)
            .map(|p| p.region.len)
            .sum()
    }

    pub(super) fn memories(&self, device: Device, vm: &VectorMemory) -> Vec<MemoryEstimate> {
        let cfg = self.cfg;
        let n = cfg.memory.instruction_words;
        let mut v: Vec<MemoryEstimate> = self
            .parts
            .iter()
            .map(|part| {
                memory(
                    device,
                    &MemSpec {
                        // A writer's loaded words, when the rest of its
                        // part is a memory of its own, are `_loaded`.
                        name: format!(
                            "vector_{}{}",
                            writer_name(part.writer),
                            if part.loads && part.region.len < self.part_len(part.writer) {
                                "_loaded"
                            } else {
                                ""
                            }
                        ),
                        instances: vm.banks,
                        depth: part.region.len.div_ceil(vm.banks),
                        width: cfg.value_width,
                        read_ports: self.runs + if part.loads { self.load_ports } else { 0 },
                        read: Read::Combinational,
                    },
                )
            })
            .collect();
        v.push(memory(
            device,
            &MemSpec {
                name: "issue_list".into(),
                instances: self.units,
                depth: tables::list_depth(cfg),
                width: 16,
                read_ports: 4,
                read: Read::Combinational,
            },
        ));
        v.push(memory(
            device,
            &MemSpec {
                name: "wait_table".into(),
                instances: 1,
                depth: n,
                width: (MAX_WAITS * tables::wait_entry_width(cfg)) as u32,
                read_ports: self.units,
                read: Read::Combinational,
            },
        ));
        v.push(memory(
            device,
            &MemSpec {
                name: "start_cycles".into(),
                instances: self.units,
                depth: 2 * n,
                width: STAMP_WIDTH as u32 + 2,
                read_ports: self.units * MAX_WAITS,
                read: Read::Combinational,
            },
        ));
        v
    }

    /// The issue stage's logic: the list walkers (`bbs_issue`), the hazard
    /// lookups and "written in this run" bits (`bbs_waits`), the units' run
    /// counters (`bbs_unit`) and the PE array's issue (`bbs_pe_issue`).
    pub(super) fn issue_stage(&self, device: Device, wd: &Widths) -> BlockEstimate {
        let n = self.cfg.memory.instruction_words;
        let (fw, sw) = (tables::FRAME_WIDTH, STAMP_WIDTH);
        let w_list = crate::arith::clog2(tables::list_depth(self.cfg)) as usize;
        let iw = tables::instr_width(self.cfg);
        let walker = fw + 2 * w_list + iw;
        let lookups = self.units * MAX_WAITS;
        // Per lookup: the seen bit (two 2N:1 muxes), the start-cycle table's
        // entry picked among the units', the age and its comparison.
        let lookup =
            2 * mux_luts(device, 2 * n) + (sw + 2) * mux_luts(device, self.units) + 2 * sw + 8;
        // Run counters of the units with runs (all but the PE array).
        let run_units = self.units - 1;
        BlockEstimate {
            name: "issue_stage",
            luts: self.units * 8 * walker + lookups * lookup + 4 * n + run_units * 13 + 120,
            // A run unit holds its offset, index and frame, and of its
            // instruction word the fields it decodes (addresses, length).
            registers: self.units * (walker + 1)
                + 4 * n
                + sw
                + run_units * (1 + wd.addr_sum + iw + fw + 3 * wd.vaddr + wd.vlen)
                + 40,
            multipliers: 0,
        }
    }

    /// The vector memory's ports (`bbs_vmem.v`, `bbs_rotate.v` and the
    /// address logic in `bbs_top.v`): a run port's banks each pick the part
    /// their row falls in, then a rotation by the run's first bank lines
    /// them up with the lanes (`log2(N)` stages of 2:1 multiplexers); a load
    /// port picks its element among the loaded parts' banks; each part's bank
    /// rows are the port's row less the part's first (per bank for a run
    /// port, once per part for a load port); each writer's lanes
    /// are rotated onto the banks of its part; the top computes every
    /// unit's run and load addresses.
    pub(super) fn vector_ports(
        &self,
        device: Device,
        wd: &Widths,
        vm: &VectorMemory,
    ) -> BlockEstimate {
        let (w, k) = (self.cfg.value_width as usize, self.load_ports);
        let parts = self.parts.len();
        let loaded = self.parts.iter().filter(|p| p.loads).count();
        let stages = vm.banks.trailing_zeros() as usize;
        let rotate = |bits: usize| vm.banks * bits * stages * mux_luts(device, 2);
        let runs = self.runs
            * (vm.banks * w * mux_luts(device, parts)
                + vm.banks * (wd.vbank_row + 1 + (parts - 1) * wd.vbank_row.div_ceil(2))
                + rotate(w));
        let loads = k * w * mux_luts(device, loaded * vm.banks);
        // A run port's row differs per bank (its first element's or the
        // next); a load port's is the same in every bank of a part, and
        // Yosys's opt_merge keeps one subtraction per part.
        let rows = (parts * vm.banks * self.runs + loaded * k) * (wd.vbank_row + 1);
        // One rotation per writer; a writer with two parts checks each
        // bank's row against the boundary.
        let writes = self.writers * rotate(1 + wd.vaddr + w)
            + (parts - self.writers) * vm.banks * 2 * (wd.vbank_row + 1);
        let addresses = (self.units + k) * 2 * wd.vaddr;
        BlockEstimate {
            name: "vector_ports",
            luts: runs + loads + rows + writes + addresses,
            // The loaded elements, registered on their way into the banks.
            registers: self.cfg.banks * self.cfg.overlap.load_width * w,
            multipliers: 0,
        }
    }
}

fn writer_name(w: Writer) -> &'static str {
    match w {
        Writer::DmaIn => "dma",
        Writer::Pe => "pe",
        Writer::Elementwise => "ewop",
        Writer::Act => "act",
    }
}
