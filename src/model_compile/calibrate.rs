//! `--calibrate INPUT.npy`: the fraction bits from the weights and the
//! activations seen on a calibration input.

use anyhow::Result;
use bbs_sim::workloads::{network_from_float_with, FloatKind, FloatLayer};
use bbs_sim::Config;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What `--calibrate` counted at one choice of fraction bits.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub frac_bits: u32,
    /// Weights and biases past the format's range.
    pub weights_saturated: usize,
    /// Input values past it.
    pub inputs_saturated: usize,
    /// Results wrapped or saturated over the calibration sequence.
    pub results_overflowed: u64,
}

impl Calibration {
    fn clean(&self) -> bool {
        self.weights_saturated == 0 && self.inputs_saturated == 0 && self.results_overflowed == 0
    }
}

/// `--calibrate`: from the most fraction bits down, the first choice under
/// which nothing leaves the format on the sequence `x`; with none, the one
/// with the fewest overflows. Returns the choice and every one tried.
pub(super) fn calibrate(
    label: &str,
    cfg: &Config,
    sparsity: &dyn Fn(usize, &str) -> f64,
    float: &[FloatLayer],
    x: &Array2<f32>,
) -> Result<(u32, Vec<Calibration>)> {
    let mut tried = Vec::new();
    for frac in (0..cfg.value_width - 1).rev() {
        let c = Config {
            frac_bits: frac,
            ..cfg.clone()
        };
        c.validate()?;
        let fmt = c.format();
        let over = |v: f32| fmt.quantize(v).1;
        let weights_saturated = float
            .iter()
            .map(|l| {
                l.w_ih
                    .iter()
                    .chain(l.w_hh.iter())
                    .filter(|&&w| over(w))
                    .count()
                    + l.w_hr
                        .iter()
                        .flat_map(|w| w.iter())
                        .filter(|&&w| over(w))
                        .count()
                    + l.b_ih
                        .iter()
                        .zip(&l.b_hh)
                        .filter(|&(&a, &b)| {
                            over(a) || over(b) || (l.kind == FloatKind::Lstm && over(a + b))
                        })
                        .count()
            })
            .sum();
        let inputs_saturated = x.iter().filter(|&&v| over(v)).count();
        let net = network_from_float_with(label, &c, sparsity, float)?;
        let mut r = bbs_sim::rnn::ReferenceState::new(&c, &net);
        for row in x.rows() {
            let frame: Vec<i64> = row.iter().map(|&v| fmt.quantize(v).0).collect();
            r.step(&frame);
        }
        let results_overflowed = r
            .overflows
            .iter()
            .map(|o| o.wrapped + o.spmv_saturated + o.elementwise_saturated)
            .sum();
        let cal = Calibration {
            frac_bits: frac,
            weights_saturated,
            inputs_saturated,
            results_overflowed,
        };
        tried.push(cal);
        if cal.clean() {
            return Ok((frac, tried));
        }
    }
    let best = tried
        .iter()
        .min_by_key(|c| {
            (
                c.weights_saturated as u64 + c.inputs_saturated as u64 + c.results_overflowed,
                std::cmp::Reverse(c.frac_bits),
            )
        })
        .expect("at least one choice");
    Ok((best.frac_bits, tried))
}
