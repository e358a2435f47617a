//! The program generator's hazard pass: for every instruction, the earlier
//! instructions (of this frame or of the previous one, the program being a
//! frame loop) it must wait for, and by how many cycles. The issue stage
//! knows nothing of regions; these fields are all it obeys, and the
//! validator ([`super::schedule::check`]) rejects a program whose waits let
//! a read overtake its write.

use super::access::{Access, Lane};
use super::{issue_sequence, Hazard, Issue, Wait};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Mark {
    frame: usize,
    instr: usize,
    offset: u32,
}

/// The waits of every instruction of `acc` (one frame of a program that
/// runs again and again), taken in `issue` order ([`super::Issue`]; empty:
/// program order). With `chaining`, a consumer may start as soon as each
/// element it reads has been written (the `after` is the largest
/// per-element difference); without it, it starts after the producer's end.
pub fn derive(
    acc: &[Access],
    vector_words: usize,
    chaining: bool,
    issue: &[Issue],
) -> Vec<Vec<Wait>> {
    reduce(acc, derive_all(acc, vector_words, chaining, issue), issue)
}

/// Every wait [`derive()`] finds before it drops those the issue stage keeps
/// anyway: the same schedule, with a wait per element range touched
/// (a vector produced in 16 blocks gives its reader 16 waits).
pub fn derive_all(
    acc: &[Access],
    vector_words: usize,
    chaining: bool,
    issue: &[Issue],
) -> Vec<Vec<Wait>> {
    let n = acc.len();
    let mut last_write: Vec<Option<Mark>> = vec![None; vector_words];
    let mut readers: Vec<Vec<Mark>> = vec![Vec::new(); vector_words];
    let mut found: Vec<BTreeMap<(usize, bool, Hazard), i64>> = vec![BTreeMap::new(); n];
    // Frame 1's waits: its instructions see all of frame 0 and whatever
    // frame 1 and 2 issue before them.
    const RECORDED: usize = 1;
    let mut seq = issue_sequence(issue, n, RECORDED + 2);
    // Nothing after frame 1's last instruction matters.
    let last = seq
        .iter()
        .rposition(|&(f, _)| f == RECORDED)
        .map_or(0, |p| p + 1);
    seq.truncate(last);
    for (frame, i) in seq {
        let a = &acc[i];
        let mut note = |m: &Mark, hazard: Hazard, after: i64| {
            // Only the recorded frame, and only earlier frames or its own.
            if frame != RECORDED || m.frame > frame {
                return;
            }
            let previous_frame = m.frame < frame;
            let e = found[i]
                .entry((m.instr, previous_frame, hazard))
                .or_insert(i64::MIN);
            *e = (*e).max(after);
        };
        for (_, touches) in &a.reads {
            for t in touches {
                if let Some(w) = &last_write[t.element as usize] {
                    note(w, Hazard::Raw, w.offset as i64 + 1 - t.offset as i64);
                }
            }
        }
        for t in &a.writes {
            let e = t.element as usize;
            if let Some(w) = &last_write[e] {
                note(w, Hazard::Waw, w.offset as i64 + 1 - t.offset as i64);
            }
            for r in &readers[e] {
                if (r.frame, r.instr) != (frame, i) {
                    note(r, Hazard::War, r.offset as i64 + 1 - t.offset as i64);
                }
            }
        }
        for (_, touches) in &a.reads {
            for t in touches {
                readers[t.element as usize].push(Mark {
                    frame,
                    instr: i,
                    offset: t.offset,
                });
            }
        }
        for t in &a.writes {
            let e = t.element as usize;
            last_write[e] = Some(Mark {
                frame,
                instr: i,
                offset: t.offset,
            });
            readers[e].clear();
        }
    }
    found
        .into_iter()
        .map(|waits| {
            waits
                .into_iter()
                .map(|((instr, previous_frame, hazard), chained)| {
                    let after = if chaining {
                        chained
                    } else {
                        // The whole producer first: its end (its last read,
                        // for a write after read).
                        match hazard {
                            Hazard::Raw | Hazard::Waw => acc[instr].end as i64,
                            Hazard::War => acc[instr].read_end() as i64,
                        }
                    };
                    Wait {
                        instr,
                        previous_frame,
                        hazard,
                        after,
                    }
                })
                .collect()
        })
        .collect()
}

/// Which anchors wait `w` of instruction `i` joins: `(gates_write,
/// of_write)`, whether it holds back `i`'s write anchor (else its read
/// anchor) and whether it names the other instruction's write anchor. An
/// instruction other than `spmv` has one anchor (read and write are the
/// same cycle), given as the read one.
pub fn anchors(acc: &[Access], i: usize, w: &Wait) -> (bool, bool) {
    let (gates_write, of_write) = match w.hazard {
        Hazard::Raw => (false, true),
        Hazard::War => (true, false),
        Hazard::Waw => (true, true),
    };
    (
        gates_write && acc[i].is_spmv(),
        of_write && acc[w.instr].is_spmv(),
    )
}

/// The unit whose in-order issue moves an anchor on: `write` picks the
/// write anchor (an `spmv`'s compute on the PE array), otherwise the read
/// anchor (an `spmv`'s vector load). Other instructions have one anchor.
fn anchor_unit(a: &Access, write: bool) -> (Lane, u64) {
    if a.is_spmv() && write {
        (Lane::Pe, a.pe_busy)
    } else {
        (a.lane, a.busy)
    }
}

/// Drop the waits the issue stage keeps anyway, so the wait table the
/// hardware evaluates stays small (the schedule is the same):
/// - a wait on an earlier instruction of the same unit whose busy cycles
///   already cover it (a unit issues in order: its next anchor is at least
///   `busy` cycles after the last one; the issue stage also meets every
///   wait at least a cycle after its anchor, [`super::schedule`]);
/// - of the waits of an instruction on one other instruction's one anchor
///   that hold back the same anchor of its own, all but the longest
///   (an instruction other than `spmv` has one anchor, so its
///   read-after-write, write-after-read and write-after-write waits on
///   another such instruction are one condition).
pub fn reduce(acc: &[Access], waits: Vec<Vec<Wait>>, issue: &[Issue]) -> Vec<Vec<Wait>> {
    // Where an awaited instruction issues, earliest first: the previous
    // frame's, then those issued ahead for this frame, then in issue order.
    let order = super::issue_order(issue, acc.len());
    let mut slot = vec![(0i64, 0usize); acc.len()];
    for (p, s) in order.iter().enumerate() {
        slot[s.instr] = (s.next_frame as i64, p);
    }
    let at = |w: &Wait| {
        (
            -(w.previous_frame as i64) - slot[w.instr].0,
            slot[w.instr].1,
        )
    };
    waits
        .into_iter()
        .enumerate()
        .map(|(i, ws)| {
            // (instr, previous frame, its anchor is the write one, ours is the write one)
            let mut kept: BTreeMap<(usize, bool, bool, bool), Wait> = BTreeMap::new();
            for w in ws {
                let (gates_write, of_write) = anchors(acc, i, &w);
                let (unit, busy) = anchor_unit(&acc[w.instr], of_write);
                if anchor_unit(&acc[i], gates_write).0 == unit && w.after.max(1) <= busy as i64 {
                    continue;
                }
                let e = kept
                    .entry((w.instr, w.previous_frame, of_write, gates_write))
                    .or_insert(w);
                if w.after > e.after {
                    *e = w;
                }
            }
            // A wait on an instruction is kept anyway by a wait on a later
            // instruction of the same unit whose anchor comes at least the
            // earlier one's busy cycles after it: drop it when that covers it.
            let mut list: Vec<((bool, bool), Wait)> = kept
                .into_iter()
                .map(|((_, _, of_write, gates_write), w)| ((of_write, gates_write), w))
                .collect();
            list.sort_by_key(|&(_, w)| at(&w));
            let mut out = Vec::new();
            for (k, &((of_write, gates_write), w)) in list.iter().enumerate() {
                let (unit, busy) = anchor_unit(&acc[w.instr], of_write);
                let covered = list[k + 1..].iter().any(|&((ow, gw), later)| {
                    gw == gates_write
                        && anchor_unit(&acc[later.instr], ow).0 == unit
                        && later.after.max(1) + busy as i64 >= w.after.max(1)
                });
                if !covered {
                    out.push(w);
                }
            }
            out.sort_by_key(|w| (w.instr, w.previous_frame, w.hazard));
            out
        })
        .collect()
}
