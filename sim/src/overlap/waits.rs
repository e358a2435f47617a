//! The program generator's hazard pass: for every instruction, the earlier
//! instructions (of this frame or of the previous one, the program being a
//! frame loop) it must wait for, and by how many cycles. The issue stage
//! knows nothing of regions; these fields are all it obeys, and the
//! validator ([`super::schedule::check`]) rejects a program whose waits let
//! a read overtake its write.

use super::access::Access;
use super::{Hazard, Wait};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Mark {
    /// Instruction index over two copies of the program: `< n` is the previous frame.
    instr: usize,
    offset: u32,
}

/// The waits of every instruction of `acc` (one frame of a program that
/// runs again and again). With `chaining`, a consumer may start as soon as
/// each element it reads has been written (the `after` is the largest
/// per-element difference); without it, it starts after the producer's end.
pub fn derive(acc: &[Access], vector_words: usize, chaining: bool) -> Vec<Vec<Wait>> {
    let n = acc.len();
    let mut last_write: Vec<Option<Mark>> = vec![None; vector_words];
    let mut readers: Vec<Vec<Mark>> = vec![Vec::new(); vector_words];
    let mut found: Vec<BTreeMap<(usize, bool, Hazard), i64>> = vec![BTreeMap::new(); n];
    for g in 0..2 * n {
        let i = g % n;
        let a = &acc[i];
        let mut note = |j: usize, hazard: Hazard, after: i64| {
            if g < n {
                return;
            }
            let key = if j >= n {
                (j - n, false, hazard)
            } else {
                (j, true, hazard)
            };
            let e = found[i].entry(key).or_insert(i64::MIN);
            *e = (*e).max(after);
        };
        for (_, touches) in &a.reads {
            for t in touches {
                if let Some(w) = last_write[t.element as usize] {
                    note(w.instr, Hazard::Raw, w.offset as i64 + 1 - t.offset as i64);
                }
            }
        }
        for t in &a.writes {
            let e = t.element as usize;
            if let Some(w) = last_write[e] {
                note(w.instr, Hazard::Waw, w.offset as i64 + 1 - t.offset as i64);
            }
            for r in &readers[e] {
                if r.instr != g {
                    note(r.instr, Hazard::War, r.offset as i64 + 1 - t.offset as i64);
                }
            }
        }
        for (_, touches) in &a.reads {
            for t in touches {
                readers[t.element as usize].push(Mark {
                    instr: g,
                    offset: t.offset,
                });
            }
        }
        for t in &a.writes {
            let e = t.element as usize;
            last_write[e] = Some(Mark {
                instr: g,
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
