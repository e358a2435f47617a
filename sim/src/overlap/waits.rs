//! The program generator's hazard pass: for every instruction, the earlier
//! instructions (of this frame or of the previous one, the program being a
//! frame loop) it must wait for, and by how many cycles. The issue stage
//! knows nothing of regions; these fields are all it obeys, and the
//! validator ([`super::schedule::check`]) rejects a program whose waits let
//! a read overtake its write.

use super::access::Access;
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
