//! Gradual pruning schedule (Zhu & Gupta 2017, "To prune, or not to prune"):
//! for users who fine-tune in their own framework and re-prune every few
//! steps, the target sparsity rises quickly at first and levels off.

use crate::error::{Error, Result};
use crate::patterns::check_sparsity;

/// The cubic schedule `s_t = final + (initial - final) * (1 - t/steps)^3`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    /// Sparsity at step 0.
    pub initial: f64,
    /// Sparsity from step `steps` on.
    pub final_: f64,
    /// Number of pruning steps, at least 1.
    pub steps: usize,
}

impl Schedule {
    /// Errors: `initial` or `final` not finite or outside `[0, 1)`;
    /// `initial > final` (the schedule would go backwards); `steps == 0`.
    pub fn new(initial: f64, final_: f64, steps: usize) -> Result<Schedule> {
        check_sparsity(initial).map_err(|e| rename(e, "initial"))?;
        check_sparsity(final_).map_err(|e| rename(e, "final"))?;
        if initial > final_ {
            return Err(Error::param(
                "initial",
                format!(
                    "{initial} is above final ({final_}); the schedule goes backwards (sparsity must not decrease)"
                ),
            ));
        }
        if steps == 0 {
            return Err(Error::param("steps", "0 must be at least 1"));
        }
        Ok(Schedule {
            initial,
            final_,
            steps,
        })
    }

    /// Target sparsity at `step`: `initial` at 0, `final` at `steps` and
    /// after, `final + (initial - final) * (1 - t/steps)^3` in between.
    ///
    /// Computed as `initial + (final - initial) * (1 - (1 - t/steps)^3)`,
    /// the same value rearranged so that the endpoints are exact and the
    /// sequence is non-decreasing in floating point too.
    pub fn sparsity_at(&self, step: usize) -> f64 {
        if step >= self.steps {
            return self.final_;
        }
        let x = 1.0 - step as f64 / self.steps as f64;
        let s = self.initial + (self.final_ - self.initial) * (1.0 - x * x * x);
        // max/min rather than clamp: a hand-built backwards schedule must not panic.
        s.max(self.initial).min(self.final_)
    }
}

/// The sparsity checks report the field `sparsity`; here it is another name.
fn rename(e: Error, name: &str) -> Error {
    match e {
        Error::Param { msg, .. } => Error::Param {
            name: name.to_string(),
            msg,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_exact() {
        let s = Schedule::new(0.1, 0.9, 7).unwrap();
        assert_eq!(s.sparsity_at(0), 0.1);
        assert_eq!(s.sparsity_at(7), 0.9);
        assert_eq!(s.sparsity_at(100), 0.9);
    }
}
