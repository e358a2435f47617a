//! The cycle model of the overlapped machine, and the validator's race check.
//!
//! Each unit (DMA in, DMA out, vector load, PE array, EWOP, and ACT with
//! `overlap.act_unit`; otherwise ACT shares the EWOP's lanes) takes its own
//! instructions in issue order (program order, or the program's
//! [`super::Issue`] list) and starts one in the first cycle
//! that (1) the unit is free, (2) every wait of the instruction is met
//! (at least `max(after, 1)` cycles past the anchor it names: the issue
//! stage sees another unit's start in the cycle after, from the register
//! that records it), and,
//! for an `spmv`'s vector load, (3) the private vector copy it fills is no
//! longer read by the SpMxV before last that used it (`overlap.vector_buffers`
//! copies, used in turn). An `spmv`'s compute starts when its vector is
//! loaded, the PE array has issued the previous SpMxV's last word and its
//! write waits are met; its drain overlaps the next SpMxV's words. The
//! element-wise unit issues the next instruction while the last one's
//! `ewop.latency` stages drain. Frames follow one another without a gap:
//! the program is the body of a frame loop, and waits may name an
//! instruction of the previous frame. [`Scheduler`] places one frame per
//! call, with the next frame's instructions that its issue order takes
//! ahead.

use super::access::{Access, Lane};
use super::{issue_order, Hazard, Issue, Wait};
use crate::isa::Instr;
use crate::machine::ProgramError;

/// When each instruction of one frame ran, in cycles since the machine started.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameTimes {
    /// Read anchor: dispatch (for `spmv`, of its vector load).
    pub read_at: Vec<i64>,
    /// Write anchor: dispatch (for `spmv`, its first compute cycle).
    pub write_at: Vec<i64>,
    /// The cycle after the instruction's last write (last read for a `store`).
    pub end: Vec<i64>,
}

impl FrameTimes {
    /// The cycle after the frame's last instruction ends.
    pub fn completion(&self) -> i64 {
        self.end.iter().copied().max().unwrap_or(0)
    }
    /// The cycle the frame's first instruction starts.
    pub fn origin(&self) -> i64 {
        self.read_at.iter().copied().min().unwrap_or(0)
    }
}

/// When each unit is next free; carried from frame to frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitClock {
    dma_in: i64,
    dma_out: i64,
    vector_load: i64,
    pe: i64,
    elementwise: i64,
    act: i64,
    /// When each private vector copy is last read by its SpMxV.
    buffers: [i64; 2],
    spmvs: usize,
}

impl FrameTimes {
    fn zeros(n: usize) -> FrameTimes {
        FrameTimes {
            read_at: vec![0; n],
            write_at: vec![0; n],
            end: vec![0; n],
        }
    }
}

/// The overlapped machine's issue stage over a stream of frames: each call
/// of [`Scheduler::next_frame`] places one frame's instructions in time (and
/// the next frame's instructions the issue order takes ahead).
#[derive(Clone, Debug)]
pub struct Scheduler {
    acc: Vec<Access>,
    waits: Vec<Vec<Wait>>,
    order: Vec<Issue>,
    vector_buffers: usize,
    clock: UnitClock,
    last: Option<FrameTimes>,
    /// The next frame, with the instructions issued ahead already placed.
    ahead: Option<FrameTimes>,
}

impl Scheduler {
    pub fn new(
        acc: Vec<Access>,
        waits: Vec<Vec<Wait>>,
        issue: &[Issue],
        vector_buffers: usize,
    ) -> Scheduler {
        let order = issue_order(issue, acc.len());
        Scheduler {
            acc,
            waits,
            order,
            vector_buffers,
            clock: UnitClock::default(),
            last: None,
            ahead: None,
        }
    }

    /// Place the next frame, in cycles since the machine started.
    pub fn next_frame(&mut self) -> FrameTimes {
        self.frame(true)
    }

    /// Place the next frame as the last of a start (the RTL's FRAMES): it
    /// issues nothing ahead for a frame after it, as the issue lists'
    /// epilogue (`tables::issue_list`). The next call starts a new frame
    /// loop's prologue.
    pub fn last_frame(&mut self) -> FrameTimes {
        self.frame(false)
    }

    /// The next frame, and (`ahead_of_next`) the instructions the issue
    /// order takes ahead for the frame after it.
    fn frame(&mut self, ahead_of_next: bool) -> FrameTimes {
        let n = self.acc.len();
        let Scheduler {
            acc,
            waits,
            order,
            vector_buffers,
            clock,
            last,
            ahead,
        } = self;
        let mut cur = match ahead.take() {
            Some(t) => t,
            None => {
                // The first frame issues its ahead instructions first.
                let mut t = FrameTimes::zeros(n);
                for s in order.iter().filter(|s| s.next_frame) {
                    place(acc, waits, *vector_buffers, s.instr, &mut t, None, clock);
                }
                t
            }
        };
        let mut next = FrameTimes::zeros(n);
        for s in order.iter() {
            if s.next_frame {
                if !ahead_of_next {
                    continue;
                }
                place(
                    acc,
                    waits,
                    *vector_buffers,
                    s.instr,
                    &mut next,
                    Some(&cur),
                    clock,
                );
            } else {
                place(
                    acc,
                    waits,
                    *vector_buffers,
                    s.instr,
                    &mut cur,
                    last.as_ref(),
                    clock,
                );
            }
        }
        *last = Some(cur.clone());
        *ahead = ahead_of_next.then_some(next);
        cur
    }
}

/// Place instruction `i` of frame `t` (whose earlier-issued instructions
/// are placed; `prev` is the frame before), moving `clock` on.
fn place(
    acc: &[Access],
    waits: &[Vec<Wait>],
    vector_buffers: usize,
    i: usize,
    t: &mut FrameTimes,
    prev: Option<&FrameTimes>,
    clock: &mut UnitClock,
) {
    let a = &acc[i];
    let (mut read_lb, mut write_lb) = (0i64, 0i64);
    for w in waits.get(i).map_or(&[][..], Vec::as_slice) {
        let of = if w.previous_frame {
            match prev {
                Some(p) => p,
                None => continue,
            }
        } else {
            &*t
        };
        // Seen from a register: never in the cycle of the anchor itself.
        let after = w.after.max(1);
        match w.hazard {
            Hazard::Raw => read_lb = read_lb.max(of.write_at[w.instr] + after),
            Hazard::War => write_lb = write_lb.max(of.read_at[w.instr] + after),
            Hazard::Waw => write_lb = write_lb.max(of.write_at[w.instr] + after),
        }
    }
    let busy = a.busy as i64;
    let (ra, wa) = match a.lane {
        Lane::VectorLoad => {
            let buf = clock.spmvs % vector_buffers;
            let ra = read_lb.max(clock.vector_load).max(clock.buffers[buf]);
            clock.vector_load = ra + busy;
            let wa = (ra + busy).max(clock.pe).max(write_lb);
            clock.pe = wa + a.pe_busy as i64;
            clock.buffers[buf] = clock.pe;
            clock.spmvs += 1;
            (ra, wa)
        }
        lane => {
            let unit = match lane {
                Lane::DmaIn => &mut clock.dma_in,
                Lane::DmaOut => &mut clock.dma_out,
                Lane::Pe => &mut clock.pe,
                Lane::Act => &mut clock.act,
                Lane::Elementwise => &mut clock.elementwise,
                Lane::VectorLoad => unreachable!("handled above"),
            };
            let s = read_lb.max(write_lb).max(*unit);
            *unit = s + busy;
            (s, s)
        }
    };
    t.read_at[i] = ra;
    t.write_at[i] = wa;
    t.end[i] = wa + a.end as i64;
}

/// The serialized machine: one instruction after another from cycle 0.
/// Per instruction, `(vector load, total)`: the cycles from its dispatch
/// to its writes (an `spmv`'s start and vector load; 0 for the others) and
/// all its cycles ([`crate::arch::timing`]).
pub fn serialized(steps: impl ExactSizeIterator<Item = (u64, u64)>) -> FrameTimes {
    let mut t = FrameTimes::zeros(steps.len());
    let mut now = 0i64;
    for (i, (load, total)) in steps.enumerate() {
        t.read_at[i] = now;
        t.write_at[i] = now + load as i64;
        t.end[i] = now + total as i64;
        now = t.end[i];
    }
    t
}

/// Frames the validator places in time before it trusts the waits: the
/// first frame, the one that meets it, and the steady state.
pub const CHECKED_FRAMES: usize = 4;

/// Check that the waits and issue order of a program put every read after
/// its write and every write after the earlier reads and writes of its
/// elements (in program order), over [`CHECKED_FRAMES`] frames. (That every
/// element is written before it is read, by a preloaded region or an
/// instruction, [`crate::machine::Machine::validate`] checks first.) The
/// error names the instruction, its field, the element, the cycles and the
/// instruction it races with.
pub fn check(
    instrs: &[Instr],
    acc: &[Access],
    waits: &[Vec<Wait>],
    issue: &[Issue],
    vector_buffers: usize,
    vector_words: usize,
) -> Result<Vec<FrameTimes>, ProgramError> {
    let n = acc.len();
    let invalid = |index: usize, field: &'static str, message: String| ProgramError::Invalid {
        index,
        name: instrs[index].name(),
        field,
        message,
    };
    if !waits.is_empty() && waits.len() != n {
        return Err(ProgramError::Program(format!(
            "the program has {n} instructions and wait lists for {}",
            waits.len()
        )));
    }
    if !issue.is_empty() {
        let mut seen = vec![false; n];
        for (p, s) in issue.iter().enumerate() {
            if s.instr >= n || seen[s.instr] {
                return Err(ProgramError::Program(format!(
                    "issue order entry {p}: instruction {} {}; the issue order lists each of the {n} instructions once",
                    s.instr,
                    if s.instr >= n { "does not exist" } else { "is listed twice" }
                )));
            }
            seen[s.instr] = true;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(invalid(
                missing,
                "issue",
                format!(
                    "is missing from the issue order ({} of {n} listed)",
                    issue.len()
                ),
            ));
        }
    }
    // Where each instruction of frame f issues: (f - next_frame, position).
    let order = issue_order(issue, n);
    let mut slot = vec![(0i64, 0usize); n];
    for (p, s) in order.iter().enumerate() {
        slot[s.instr] = (s.next_frame as i64, p);
    }
    let at = |frame: i64, j: usize| (frame - slot[j].0, slot[j].1);
    for (i, ws) in waits.iter().enumerate() {
        for w in ws {
            let earlier = w.instr < n && at(-(w.previous_frame as i64), w.instr) < at(0, i);
            if !earlier {
                return Err(invalid(
                    i,
                    "wait",
                    format!(
                        "waits for instruction {}{}, which is not issued before it",
                        w.instr,
                        if w.previous_frame {
                            " of the previous frame"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
    }
    let mut scheduler = Scheduler::new(acc.to_vec(), waits.to_vec(), issue, vector_buffers);
    let frames: Vec<FrameTimes> = (0..CHECKED_FRAMES)
        .map(|_| scheduler.next_frame())
        .collect();
    // Per element: the last write (cycle, frame, instruction) and the latest read.
    let mut written: Vec<Option<(i64, usize, usize)>> = vec![None; vector_words];
    let mut read: Vec<Option<(i64, usize, usize)>> = vec![None; vector_words];
    let who = |cur: usize, (_, f, j): (i64, usize, usize)| {
        let when = match cur - f {
            0 => "",
            1 => " of the previous frame",
            _ => " of an earlier frame",
        };
        format!("instruction {j} ({}){when}", instrs[j].name())
    };
    for (f, t) in frames.iter().enumerate() {
        for (i, a) in acc.iter().enumerate() {
            for (field, touches) in &a.reads {
                for tc in touches {
                    let e = tc.element as usize;
                    let at = t.read_at[i] + tc.offset as i64;
                    if let Some(w) = written[e] {
                        if at <= w.0 {
                            return Err(invalid(
                                i,
                                field,
                                format!(
                                    "frame {f}: reads element {e} in cycle {at}, before {} writes it in cycle {}: its waits let the read overtake the write",
                                    who(f, w),
                                    w.0
                                ),
                            ));
                        }
                    }
                    if read[e].is_none_or(|r| at > r.0) {
                        read[e] = Some((at, f, i));
                    }
                }
            }
            for tc in &a.writes {
                let e = tc.element as usize;
                let at = t.write_at[i] + tc.offset as i64;
                if let Some(w) = written[e] {
                    if at <= w.0 {
                        return Err(invalid(
                            i,
                            "dst",
                            format!(
                                "frame {f}: writes element {e} in cycle {at}, while {} still writes it (cycle {}): two writers of one region in flight",
                                who(f, w),
                                w.0
                            ),
                        ));
                    }
                }
                if let Some(r) = read[e] {
                    if at <= r.0 && !(r.1 == f && r.2 == i) {
                        return Err(invalid(
                            i,
                            "dst",
                            format!(
                                "frame {f}: writes element {e} in cycle {at}, before {} reads it in cycle {}: the read would see the new value",
                                who(f, r),
                                r.0
                            ),
                        ));
                    }
                }
                written[e] = Some((at, f, i));
            }
        }
    }
    // The issue stage keeps the anchor cycles of each instruction's last
    // two frames: a wait on frame g must be met before frame g + 2 of the
    // instruction it names starts and takes that slot.
    for (f, t) in frames.iter().enumerate() {
        for (i, ws) in waits.iter().enumerate() {
            for w in ws {
                let Some(g) = f.checked_sub(w.previous_frame as usize) else {
                    continue;
                };
                let at = |fr: &FrameTimes| match w.hazard {
                    Hazard::Raw => (t.read_at[i], fr.write_at[w.instr]),
                    Hazard::War => (t.write_at[i], fr.read_at[w.instr]),
                    Hazard::Waw => (t.write_at[i], fr.write_at[w.instr]),
                };
                let (gated, start) = at(&frames[g]);
                let most = 1i64 << crate::overlap::tables::STAMP_WIDTH;
                if gated - start >= most {
                    return Err(invalid(
                        i,
                        "wait",
                        format!(
                            "frame {f}: starts {} cycles after instruction {} of frame {g}, which it waits for: the issue stage counts ages below {most}",
                            gated - start,
                            w.instr
                        ),
                    ));
                }
                let Some(later) = frames.get(g + 2) else {
                    continue;
                };
                let (gated, anchor) = at(later);
                if anchor < gated {
                    return Err(invalid(
                        i,
                        "wait",
                        format!(
                            "frame {f}: waits for instruction {} of frame {g} until cycle {gated}, but its frame {} starts in cycle {anchor}: the issue stage keeps two frames of start cycles",
                            w.instr,
                            g + 2
                        ),
                    ));
                }
            }
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overlap};
    use crate::machine::{Machine, Program};
    use crate::rnn::Compiled;
    use crate::workloads;

    /// small-lstm on the default configuration, every overlap technique on.
    fn compiled() -> (Machine, Program) {
        let cfg = Config {
            overlap: Overlap::all(),
            ..Config::default()
        };
        let net = workloads::network("small-lstm", &cfg, 0.75, 1).unwrap();
        let Compiled {
            program, matrices, ..
        } = net.compile(&cfg).unwrap();
        (Machine::new(&cfg, matrices).unwrap(), program)
    }

    #[test]
    fn the_input_part_issues_a_frame_ahead_and_validates() {
        let (m, p) = compiled();
        assert!(p.issue.iter().any(|s| s.next_frame), "{:?}", p.issue);
        // The load, W_ih x and its bias add of the next frame.
        let ahead: Vec<&str> = p
            .issue
            .iter()
            .filter(|s| s.next_frame)
            .map(|s| p.instrs[s.instr].name())
            .collect();
        assert_eq!(ahead, ["load", "spmv", "ewop"]);
        m.validate(&p).unwrap();
    }

    /// The next frame's input part (its bias add writes the gate sums this
    /// frame's cell blocks still update and read) moved right after this
    /// frame's W_hh h: with waits derived for that order, the bias add
    /// writes the sums while this frame's blocks still write them.
    #[test]
    fn an_issue_order_that_overtakes_a_read_is_refused() {
        let (m, mut p) = compiled();
        let ahead: Vec<Issue> = p.issue.iter().copied().filter(|s| s.next_frame).collect();
        p.issue.retain(|s| !s.next_frame);
        let w_hh = p
            .issue
            .iter()
            .position(|s| p.instrs[s.instr].name() == "spmv")
            .unwrap();
        for (k, s) in ahead.iter().enumerate() {
            p.issue.insert(w_hh + 1 + k, *s);
        }
        let acc = m.accesses(&p);
        p.waits =
            crate::overlap::waits::derive(&acc, m.config().memory.vector_words, true, &p.issue);
        let bias_add = ahead[2].instr;
        let e = m.validate(&p).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("instruction {bias_add} (ewop.dst): frame 1:"))
                && e.contains("of the previous frame still writes it")
                && e.contains("two writers of one region in flight"),
            "{e}"
        );
    }

    #[test]
    fn an_issue_order_must_list_every_instruction_once() {
        let (m, p) = compiled();
        let mut twice = p.clone();
        let first = twice.issue[0];
        twice.issue.push(first);
        let e = m.validate(&twice).unwrap_err().to_string();
        assert!(e.contains("is listed twice"), "{e}");

        let mut missing = p.clone();
        let gone = missing.issue.pop().unwrap();
        let e = m.validate(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("instruction {} (", gone.instr))
                && e.contains(".issue): is missing from the issue order"),
            "{e}"
        );
    }

    /// An instruction issued a frame ahead cannot wait for one this frame
    /// issues after it.
    #[test]
    fn a_wait_on_an_instruction_issued_later_is_refused() {
        let (m, mut p) = compiled();
        let ahead = p.issue.iter().find(|s| s.next_frame).unwrap().instr;
        let store = p.instrs.len() - 1;
        p.waits[ahead].push(Wait {
            instr: store,
            previous_frame: false,
            hazard: Hazard::Raw,
            after: 0,
        });
        let e = m.validate(&p).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("instruction {ahead} (load.wait)"))
                && e.contains(&format!(
                    "waits for instruction {store}, which is not issued before it"
                )),
            "{e}"
        );
    }
}
