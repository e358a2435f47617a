//! The pruning report: per layer and pattern, what pruning cost (JSON and
//! Markdown), and an error-against-sparsity sweep plotted as SVG.

use crate::layers::LayerSettings;
use crate::patterns::{comparison_patterns, family, COMPARISON_FAMILIES, SWEEP_SPARSITIES};
use anyhow::Result;
use bbs_compress::metrics::{layer_metrics, LayerMetrics};
use bbs_compress::patterns::prune_mask;
use bbs_compress::{shown, NamedMatrix, QFormat};
use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Version of the report layout; bump on any change of its fields.
pub const REPORT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct PatternReport {
    pub pattern: String,
    #[serde(flatten)]
    pub metrics: LayerMetrics,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub shape: [usize; 2],
    pub sparsity: f64,
    pub banks: usize,
    pub skipped: bool,
    /// `||W||_F^2`, to combine layer errors into a model error.
    pub squared_norm: f64,
    /// The written pattern first, then the comparison patterns.
    pub patterns: Vec<PatternReport>,
}

/// The whole model under one pattern.
#[derive(Clone, Debug, Serialize)]
pub struct Total {
    pub pattern: String,
    pub parameters: usize,
    pub achieved_sparsity: f64,
    /// `sqrt(sum ||W - W_p||^2) / sqrt(sum ||W||^2)` over the pruned layers.
    pub relative_frobenius_error: f64,
    pub dense_bytes: usize,
    pub sparse_bytes: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub pattern: String,
    pub sparsity: f64,
    pub relative_frobenius_error: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub bbs_version: &'static str,
    pub input: String,
    pub value_format: String,
    pub layers: Vec<LayerReport>,
    pub totals: Vec<Total>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Vec<SweepPoint>>,
}

impl Report {
    pub fn new(
        input: &Path,
        format: QFormat,
        layers: Vec<LayerReport>,
        sweep: Option<Vec<SweepPoint>>,
    ) -> Report {
        // Totals for each pattern label measured on every pruned layer.
        let active: Vec<&LayerReport> = layers.iter().filter(|l| !l.skipped).collect();
        let mut totals = Vec::new();
        if let Some(first) = active.first() {
            for (i, p) in first.patterns.iter().enumerate() {
                let rows: Vec<(&LayerReport, &PatternReport)> = active
                    .iter()
                    .filter_map(|l| l.patterns.get(i).map(|q| (*l, q)))
                    .collect();
                if rows.len() != active.len() {
                    continue;
                }
                let parameters: usize = rows.iter().map(|(l, _)| l.shape[0] * l.shape[1]).sum();
                let zeros: f64 = rows
                    .iter()
                    .map(|(l, q)| q.metrics.achieved_sparsity * (l.shape[0] * l.shape[1]) as f64)
                    .sum();
                let err2: f64 = rows
                    .iter()
                    .map(|(l, q)| (q.metrics.relative_frobenius_error.powi(2)) * l.squared_norm)
                    .sum();
                let norm2: f64 = rows.iter().map(|(l, _)| l.squared_norm).sum();
                let same = rows.iter().all(|(_, q)| q.pattern == p.pattern);
                totals.push(Total {
                    pattern: if same {
                        p.pattern.clone()
                    } else {
                        format!("{} (varies by layer)", p.pattern)
                    },
                    parameters,
                    achieved_sparsity: zeros / parameters.max(1) as f64,
                    relative_frobenius_error: if norm2 > 0.0 {
                        (err2 / norm2).sqrt()
                    } else {
                        0.0
                    },
                    dense_bytes: rows.iter().map(|(_, q)| q.metrics.dense_bytes).sum(),
                    sparse_bytes: rows.iter().map(|(_, q)| q.metrics.sparse_bytes).sum(),
                });
            }
        }
        Report {
            report_version: REPORT_VERSION,
            bbs_version: env!("CARGO_PKG_VERSION"),
            input: input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            value_format: format!("Q{}.{}", format.width, format.frac),
            layers,
            totals,
            sweep,
        }
    }

    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Pruning report: {}\n", shown(&self.input));
        let _ = writeln!(
            md,
            "bbs {}, values {}. Errors are relative Frobenius norms ||W - W_p|| / ||W||; \
             sparse bytes are the pattern's natural format (CSB for BBS), index overhead is index bytes / value bytes.\n",
            self.bbs_version, self.value_format
        );
        if !self.totals.is_empty() {
            let _ = writeln!(md, "## Whole model\n");
            let _ = writeln!(
                md,
                "| pattern | parameters | sparsity | rel. error | sparse bytes | dense bytes |"
            );
            let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
            for t in &self.totals {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.4} | {:.4} | {} | {} |",
                    t.pattern,
                    t.parameters,
                    t.achieved_sparsity,
                    t.relative_frobenius_error,
                    t.sparse_bytes,
                    t.dense_bytes
                );
            }
            md.push('\n');
        }
        let _ = writeln!(md, "## Layers\n");
        let _ = writeln!(
            md,
            "| layer | shape | pattern | sparsity | rel. error | retained magnitude | sparse bytes | dense bytes | index overhead |"
        );
        let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|---:|---:|");
        for l in &self.layers {
            if l.skipped {
                let _ = writeln!(
                    md,
                    "| {} | {}x{} | skipped (dense) | | | | | | |",
                    shown(&l.name),
                    l.shape[0],
                    l.shape[1]
                );
                continue;
            }
            for p in &l.patterns {
                let m = &p.metrics;
                let _ = writeln!(
                    md,
                    "| {} | {}x{} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {:.3} |",
                    shown(&l.name),
                    l.shape[0],
                    l.shape[1],
                    p.pattern,
                    m.achieved_sparsity,
                    m.relative_frobenius_error,
                    m.retained_magnitude_share,
                    m.sparse_bytes,
                    m.dense_bytes,
                    m.index_overhead
                );
            }
        }
        if let Some(sweep) = &self.sweep {
            let _ = writeln!(md, "\n## Error against sparsity (whole model)\n");
            let _ = writeln!(md, "| pattern | sparsity | rel. error |");
            let _ = writeln!(md, "|---|---:|---:|");
            for p in sweep {
                let _ = writeln!(
                    md,
                    "| {} | {:.4} | {:.4} |",
                    p.pattern, p.sparsity, p.relative_frobenius_error
                );
            }
        }
        md
    }
}

/// Prune every non-skipped layer with every pattern of the comparison set
/// at each sweep sparsity; the whole-model relative error per (family,
/// sparsity).
pub fn sweep(
    layers: &[NamedMatrix],
    settings: &[LayerSettings],
    pb: &ProgressBar,
) -> Result<Vec<SweepPoint>> {
    // per layer: for each (family, sparsity), squared error
    let per_layer: Vec<Vec<(String, f64, f64)>> = layers
        .par_iter()
        .zip(settings.par_iter())
        .filter(|(_, s)| !s.skip)
        .map(|(l, s)| {
            let mut out = Vec::new();
            for &sp in &SWEEP_SPARSITIES {
                for p in comparison_patterns(s.banks, sp) {
                    let mask = prune_mask(&l.matrix.view(), &p, sp)?;
                    let m = layer_metrics(&l.matrix.view(), &mask, &p, 2);
                    let norm2: f64 = l.matrix.iter().map(|&v| (v as f64).powi(2)).sum();
                    out.push((family(&p), sp, m.relative_frobenius_error.powi(2) * norm2));
                }
            }
            pb.inc(1);
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let norm2: f64 = layers
        .iter()
        .zip(settings)
        .filter(|(_, s)| !s.skip)
        .map(|(l, _)| l.matrix.iter().map(|&v| (v as f64).powi(2)).sum::<f64>())
        .sum();
    let mut points = Vec::new();
    for fam in COMPARISON_FAMILIES {
        for &sp in &SWEEP_SPARSITIES {
            let errs: Vec<f64> = per_layer
                .iter()
                .filter_map(|l| {
                    l.iter()
                        .find(|(f, s, _)| f == fam && *s == sp)
                        .map(|(_, _, e)| *e)
                })
                .collect();
            if errs.len() == per_layer.len() && !errs.is_empty() {
                points.push(SweepPoint {
                    pattern: fam.to_string(),
                    sparsity: sp,
                    relative_frobenius_error: if norm2 > 0.0 {
                        (errs.iter().sum::<f64>() / norm2).sqrt()
                    } else {
                        0.0
                    },
                });
            }
        }
    }
    Ok(points)
}

/// Error against sparsity, one line per pattern family.
pub fn plot_svg(points: &[SweepPoint]) -> Result<String> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let ymax = points
            .iter()
            .map(|p| p.relative_frobenius_error)
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Relative Frobenius error against sparsity",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.2f64..1.0f64, 0.0f64..ymax)?;
        chart
            .configure_mesh()
            .x_desc("sparsity")
            .y_desc("||W - W_p|| / ||W||")
            .draw()?;
        let mut families: Vec<&str> = Vec::new();
        for p in points {
            if !families.contains(&p.pattern.as_str()) {
                families.push(&p.pattern);
            }
        }
        for (i, fam) in families.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let series: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.pattern == *fam)
                .map(|p| (p.sparsity, p.relative_frobenius_error))
                .collect();
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
                .label(fam.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                series
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
