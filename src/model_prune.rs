//! `bbs prune --out-dir`: prune every selected matrix of a whole model, write
//! CSB files with a manifest, the pruned model in its own format, the masks,
//! and a report (JSON and Markdown) of what each pattern costs.

use crate::layers::{LayerRules, LayerSettings};
use crate::patterns::comparison_patterns;
use crate::report::{self, LayerReport, PatternReport, Report};
use anyhow::{Context, Result};
use bbs_compress::metrics::layer_metrics;
use bbs_compress::patterns::{global_unstructured_masks, prune_mask, Pattern};
use bbs_compress::{prune_bbs, read_matrices, Csb, NamedMatrix, Out, OutputPlan, QFormat};
use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

/// Which pattern the written outputs use.
#[derive(Clone, Debug, PartialEq)]
pub enum Product {
    /// Bank-balanced, banks from the layer settings: CSB files are written.
    Bbs,
    /// A comparison pattern (its sparsity from the layer settings).
    Other(Pattern),
    /// Unstructured with one magnitude threshold across all selected layers.
    GlobalUnstructured,
}

impl Product {
    pub fn parse(text: &str) -> Result<Product> {
        Ok(match text {
            "bbs" => Product::Bbs,
            "global" | "unstructured-global" => Product::GlobalUnstructured,
            other => match Pattern::parse(other)? {
                Pattern::Bbs { .. } => Product::Bbs,
                p => Product::Other(p),
            },
        })
    }
}

pub struct ModelPruneRequest<'a> {
    pub weights: &'a Path,
    pub select: &'a [String],
    pub rules: &'a LayerRules,
    pub product: Product,
    pub format: QFormat,
    /// Also measure the comparison patterns at each layer's sparsity.
    pub compare: bool,
    /// Sweep sparsities for every pattern and plot error against sparsity.
    pub plot: bool,
    pub quiet: bool,
}

/// One layer's entry in `manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestEntry {
    pub name: String,
    pub shape: [usize; 2],
    pub csb: Option<String>,
    pub sparsity: f64,
    pub banks: usize,
    pub bank_size: usize,
    pub slots: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<bbs_compress::GateInfo>,
}

struct LayerResult {
    name: String,
    pruned: Array2<f32>,
    mask: Array2<bool>,
    csb: Option<Vec<u8>>,
    manifest: Option<ManifestEntry>,
    report: LayerReport,
}

fn file_stem_for(name: &str, used: &mut BTreeSet<String>) -> String {
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut stem = base.clone();
    let mut i = 2;
    while !used.insert(stem.clone()) {
        stem = format!("{base}_{i}");
        i += 1;
    }
    stem
}

fn pattern_report(
    w: &Array2<f32>,
    mask: &Array2<bool>,
    pattern: &Pattern,
    value_bytes: usize,
) -> PatternReport {
    PatternReport {
        pattern: pattern.label(),
        metrics: layer_metrics(&w.view(), mask, pattern, value_bytes),
    }
}

/// The pruned model's file name: `pruned.<the input's extension>`.
fn pruned_name(req: &ModelPruneRequest) -> String {
    let ext = req
        .weights
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("bin");
    format!("pruned.{ext}")
}

/// Declare the files of directory output `dir` known before pruning (the
/// CSB files are named after the tensors, so they are checked when written).
pub fn declare_outputs(req: &ModelPruneRequest, plan: &mut OutputPlan, dir: Out) {
    let mut parts = vec![pruned_name(req), "masks.safetensors".into()];
    parts.extend(["report.json", "report.md"].map(String::from));
    if req.product == Product::Bbs {
        parts.push("manifest.json".into());
    }
    if req.plot {
        parts.push("error-vs-sparsity.svg".into());
    }
    for p in &parts {
        plan.part(dir, p);
    }
}

/// Run the whole-model pruning and stage everything into directory output
/// `dir` of `plan` (the caller publishes it); returns the report.
pub fn prune_model(req: &ModelPruneRequest, plan: &mut OutputPlan, dir: Out) -> Result<Report> {
    let layers = read_matrices(req.weights, req.select)?;
    anyhow::ensure!(
        !layers.is_empty(),
        "{}: no 2-D tensor to prune",
        req.weights.display()
    );
    let value_bytes = req.format.width.div_ceil(8) as usize;
    let settings: Vec<LayerSettings> = layers
        .iter()
        .map(|l| req.rules.for_tensor(&l.name))
        .collect();

    // Global unstructured needs every layer at once (one threshold); skipped
    // layers take no part. All layers share the default sparsity then.
    let global_masks = if req.product == Product::GlobalUnstructured {
        let active: Vec<_> = layers
            .iter()
            .zip(&settings)
            .filter(|(_, s)| !s.skip)
            .map(|(l, _)| l.matrix.view())
            .collect();
        let s = settings
            .iter()
            .find(|s| !s.skip)
            .map_or(0.0, |s| s.sparsity);
        let mut masks = global_unstructured_masks(&active, s)
            .with_context(|| req.weights.display().to_string())?
            .into_iter();
        settings
            .iter()
            .map(|s| if s.skip { None } else { masks.next() })
            .collect()
    } else {
        vec![None; layers.len()]
    };

    let pb = crate::print::progress(layers.len(), req.quiet, "pruning");
    let prune = |layer: NamedMatrix, s: &LayerSettings, global: Option<Array2<bool>>| {
        let name = layer.name.clone();
        let r = prune_layer(
            layer,
            s,
            &req.product,
            global,
            req.format,
            value_bytes,
            req.compare,
        );
        pb.inc(1);
        r.with_context(|| format!("{}: tensor '{}'", req.weights.display(), name))
    };
    // Each layer's matrix becomes its pruned copy in place. The sweep needs
    // the original matrices afterwards, so with it each layer is copied
    // first; without it the layers are consumed and their memory reused.
    let (results, originals): (Vec<LayerResult>, Option<Vec<NamedMatrix>>) = if req.plot {
        let results = layers
            .par_iter()
            .zip(settings.par_iter())
            .zip(global_masks.into_par_iter())
            .map(|((layer, s), global)| prune(layer.clone(), s, global))
            .collect::<Result<_>>()?;
        (results, Some(layers))
    } else {
        let results = layers
            .into_par_iter()
            .zip(settings.par_iter())
            .zip(global_masks.into_par_iter())
            .map(|((layer, s), global)| prune(layer, s, global))
            .collect::<Result<_>>()?;
        (results, None)
    };
    pb.finish_and_clear();

    let sweep = match &originals {
        Some(layers) => {
            let pb = crate::print::progress(layers.len(), req.quiet, "sweeping");
            let sweep = report::sweep(layers, &settings, &pb)?;
            pb.finish_and_clear();
            Some(sweep)
        }
        None => None,
    };
    drop(originals);

    let report = Report::new(
        req.weights,
        req.format,
        results.iter().map(|r| r.report.clone()).collect(),
        sweep,
    );
    write_outputs(req, results, &report, plan, dir)?;
    Ok(report)
}

/// Prunes one layer; its matrix becomes the pruned matrix in place.
fn prune_layer(
    layer: NamedMatrix,
    s: &LayerSettings,
    product: &Product,
    global: Option<Array2<bool>>,
    format: QFormat,
    value_bytes: usize,
    compare: bool,
) -> Result<LayerResult> {
    let NamedMatrix {
        name,
        matrix: mut w,
        gates,
        ..
    } = layer;
    let (rows, cols) = w.dim();
    let mut patterns = Vec::new();
    let (mask, csb, manifest) = if s.skip {
        (Array2::from_elem(w.dim(), true), None, None)
    } else {
        match product {
            Product::Bbs => {
                let p = prune_bbs(&w.view(), s.banks, s.sparsity)?;
                let mask = p.mask().mapv(|m| m != 0);
                let entry = ManifestEntry {
                    name: name.clone(),
                    shape: [rows, cols],
                    csb: None,
                    sparsity: p.achieved_sparsity(),
                    banks: p.banks,
                    bank_size: p.bank_size,
                    slots: p.slots,
                    gates,
                };
                let (csb, _) = Csb::from_pruned_owned(p, format);
                patterns.push(pattern_report(
                    &w,
                    &mask,
                    &Pattern::Bbs { banks: s.banks },
                    value_bytes,
                ));
                (mask, Some(csb.to_bytes()), Some(entry))
            }
            Product::Other(pattern) => {
                let mask = prune_mask(&w.view(), pattern, s.sparsity)?;
                patterns.push(pattern_report(&w, &mask, pattern, value_bytes));
                (mask, None, None)
            }
            Product::GlobalUnstructured => {
                let mask = global.expect("a global mask for every active layer");
                patterns.push(pattern_report(
                    &w,
                    &mask,
                    &Pattern::Unstructured,
                    value_bytes,
                ));
                (mask, None, None)
            }
        }
    };
    if compare && !s.skip {
        for pattern in comparison_patterns(s.banks, s.sparsity) {
            let label = pattern.label();
            if patterns.iter().any(|p| p.pattern == label) {
                continue;
            }
            let m = prune_mask(&w.view(), &pattern, s.sparsity)?;
            patterns.push(pattern_report(&w, &m, &pattern, value_bytes));
        }
    }
    let squared_norm = w.iter().map(|&v| (v as f64) * (v as f64)).sum();
    // The pruned matrix: kept entries keep their value, the others are 0.0
    // (what `apply_mask` and `BbsPruned::pruned` give).
    if mask.dim() == w.dim() {
        w.zip_mut_with(&mask, |x, &keep| {
            if !keep {
                *x = 0.0;
            }
        });
    } else {
        for ((r, c), x) in w.indexed_iter_mut() {
            if !mask.get((r, c)).copied().unwrap_or(false) {
                *x = 0.0;
            }
        }
    }
    Ok(LayerResult {
        name: name.clone(),
        pruned: w,
        mask,
        csb,
        manifest,
        report: LayerReport {
            name,
            shape: [rows, cols],
            sparsity: s.sparsity,
            banks: s.banks,
            skipped: s.skip,
            squared_norm,
            patterns,
        },
    })
}

/// Stage every file into directory output `dir` of `plan`.
fn write_outputs(
    req: &ModelPruneRequest,
    results: Vec<LayerResult>,
    report: &Report,
    plan: &mut OutputPlan,
    dir: Out,
) -> Result<()> {
    let mut used = BTreeSet::new();
    let mut manifest = Vec::new();
    let mut replace = Vec::new();
    let mut masks = Vec::new();
    for r in results {
        if let (Some(bytes), Some(mut entry)) = (r.csb, r.manifest) {
            let file = format!("csb/{}.csb", file_stem_for(&r.name, &mut used));
            plan.write_in(dir, &file, &bytes)?;
            entry.csb = Some(file);
            manifest.push(entry);
        }
        replace.push((r.name.clone(), r.pruned));
        masks.push((r.name, r.mask));
    }
    if !manifest.is_empty() {
        plan.write_in(
            dir,
            "manifest.json",
            format!("{}\n", serde_json::to_string_pretty(&manifest)?).as_bytes(),
        )?;
    }
    bbs_compress::write_like_to(req.weights, plan.dest_in(dir, &pruned_name(req)), &replace)?;
    drop(replace);
    bbs_compress::write_masks_to(plan.dest_in(dir, "masks.safetensors"), &masks)?;
    plan.write_in(
        dir,
        "report.json",
        format!("{}\n", serde_json::to_string_pretty(report)?).as_bytes(),
    )?;
    plan.write_in(dir, "report.md", report.to_markdown().as_bytes())?;
    if let Some(sweep) = &report.sweep {
        plan.write_in(
            dir,
            "error-vs-sparsity.svg",
            report::plot_svg(sweep)?.as_bytes(),
        )?;
    }
    Ok(())
}
