//! What a person reads of the two reports: `layers.csv` (one row per
//! matrix per scheme), the short summary `bbs sim` prints, and the Markdown
//! table of schemes. Also [`csv_string`], the one CSV writer of the reports
//! (`layers.csv` here, `sweep.csv` in `bbs sweep`).
//!
//! Numbers are formatted here, as text, before they reach the CSV writer: the
//! digits of every file are decided in this module alone.

use super::device::Resources;
use super::model::ModelReport;
use super::schemes::{Baselines, SchemeRow};
use super::workload::WorkloadReport;
use crate::resources::Device;
use crate::spmv::CycleBreakdown;
use bbs_compress::shown;
use std::fmt::Write as _;

/// Columns of `layers.csv`.
pub const CSV_COLUMNS: [&str; 22] = [
    "layer",
    "matrix",
    "name",
    "scheme",
    "rows",
    "cols",
    "nnz",
    "mask_nnz",
    "block_size",
    "cycles",
    "compute_cycles",
    "compute_bound",
    "utilization",
    "effective_utilization",
    "bank_conflict",
    "load_imbalance",
    "underfill",
    "underfill_slots",
    "vector_load",
    "pipeline",
    "matrix_words_per_pe",
    "fits_matrix_memory",
];

/// `header` and then `rows` as CSV text, RFC 4180 style: `\n` after every
/// record; a field that holds a comma, a double quote, `\r` or `\n` is put in
/// double quotes with its quotes doubled, every other field is written as
/// it is. Fields are text: format numbers before (as the callers do, so the
/// digits stay theirs). Every row must have the header's length.
pub fn csv_string<R, F>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    const ROWS: &str = "every CSV row has as many fields as the header";
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect(ROWS);
    for row in rows {
        w.write_record(row).expect(ROWS);
    }
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("fields are UTF-8, so the CSV is")
}

/// One row of `layers.csv`.
fn layers_row(
    layer: usize,
    matrix: usize,
    name: &str,
    rows: usize,
    cols: usize,
    r: &SchemeRow,
) -> [String; 22] {
    let st = &r.stalls;
    [
        layer.to_string(),
        matrix.to_string(),
        name.to_string(),
        r.scheme.to_string(),
        rows.to_string(),
        cols.to_string(),
        r.nnz.to_string(),
        r.mask_nnz.to_string(),
        r.block_size.map(|b| b.to_string()).unwrap_or_default(),
        r.cycles.to_string(),
        r.compute_cycles.to_string(),
        format!("{:.3}", r.compute_bound),
        format!("{:.6}", r.utilization),
        format!("{:.6}", r.effective_utilization),
        st.bank_conflict.to_string(),
        st.load_imbalance.to_string(),
        st.underfill.to_string(),
        st.underfill_slots.to_string(),
        st.vector_load.to_string(),
        st.pipeline.to_string(),
        r.matrix_words_per_pe.to_string(),
        r.fits_matrix_memory.to_string(),
    ]
}

/// The `layers.csv` rows of matrix `i`: every scheme with baselines, else
/// its `bbs` row alone.
fn scheme_rows<'a>(
    baselines: Option<&'a Baselines>,
    bbs_rows: &'a [SchemeRow],
    i: usize,
) -> &'a [SchemeRow] {
    match baselines {
        Some(b) => &b.matrices[i].schemes,
        None => bbs_rows
            .get(i)
            .map(std::slice::from_ref)
            .unwrap_or_default(),
    }
}

/// The summary's resources line.
fn resources_line(r: &Resources) -> String {
    let e = &r.estimate;
    format!(
        "  resources ({}): {} multipliers in {} DSP blocks, {} block RAMs, ~{} registers, ~{} LUTs (~{} {}); {} the {} budget ({} DSP, {} block RAMs, {} {}){}\n",
        r.device_label,
        e.multipliers,
        e.dsp_blocks,
        e.block_rams,
        e.registers,
        e.luts,
        e.logic,
        r.device.logic_unit(),
        if r.fits_budget { "fits" } else { "exceeds" },
        r.budget_name,
        r.budget.dsp_blocks,
        r.budget.block_rams,
        r.budget.logic,
        r.device.logic_unit(),
        if r.over_budget.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                r.over_budget
                    .iter()
                    .map(|o| format!("{} {} > {}", o.resource, o.needed, o.available))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The summary line of one SpMxV.
#[allow(clippy::too_many_arguments)]
fn spmv_line(
    s: &mut String,
    name: &str,
    rows: usize,
    cols: usize,
    banks: usize,
    slots: usize,
    cy: &CycleBreakdown,
    utilization: f64,
) {
    let _ = writeln!(
        s,
        "  {} {}x{}: {} banks x {} slots, {} cycles (start {}, load {}, compute {}, drain {}), utilization {}",
        shown(name),
        rows,
        cols,
        banks,
        slots,
        cy.total,
        cy.start,
        cy.load,
        cy.compute,
        cy.drain,
        pct(utilization)
    );
}

/// The block-RAM column of a table of schemes.
fn block_ram_label(device: Device) -> &'static str {
    match device {
        Device::IntelM20k => "M20K blocks",
        Device::XilinxRamb36 => "RAMB36 blocks",
    }
}

/// One Markdown table row, `| a | b |`; an empty cell is `| |`.
fn table_row<S: AsRef<str>>(t: &mut String, cells: &[S]) {
    for c in cells {
        match c.as_ref() {
            "" => t.push_str("| "),
            c => {
                let _ = write!(t, "| {c} ");
            }
        }
    }
    t.push_str("|\n");
}

/// The Markdown table of schemes: each scheme's cycles, microseconds,
/// utilization and resources, the compute bound, and the published figure
/// when there is one. `per_frame`: a workload's table, each scheme's SpMxV
/// cycles beside its frame's; else a model's, all layers run once.
fn schemes_table(b: &Baselines, mhz: u32, device: Device, per_frame: bool) -> String {
    let (cycles, us): (&[&str], String) = if per_frame {
        (
            &["SpMxV cycles", "cycles per frame"],
            format!("us per frame at {mhz} MHz"),
        )
    } else {
        (&["cycles, all layers"], format!("us at {mhz} MHz"))
    };
    let mut t = String::new();
    let mut head = vec!["scheme"];
    head.extend(cycles);
    head.extend([
        us.as_str(),
        "multiplier utilization",
        "DSP blocks",
        block_ram_label(device),
        "fits matrix memory",
    ]);
    table_row(&mut t, &head);
    let _ = writeln!(t, "|---|{}---|", "---:|".repeat(head.len() - 2));
    for f in &b.frame {
        let mut row = vec![b.label(f.scheme)];
        if per_frame {
            row.push(f.spmv_cycles.to_string());
        }
        row.extend([
            f.cycles.to_string(),
            format!("{:.2}", f.microseconds),
            pct(f.utilization),
            f.dsp_blocks.to_string(),
            f.block_rams.to_string(),
            (if f.fits_matrix_memory { "yes" } else { "no" }).to_string(),
        ]);
        table_row(&mut t, &row);
    }
    // The bound has SpMxV cycles only: no frame cycles.
    let cycles_cell = format!("{:.0}", b.compute_bound_cycles);
    let mut bound = vec!["compute bound nnz / (P K)", &cycles_cell];
    if per_frame {
        bound.push("");
    }
    let us_cell = format!("{:.2}", b.compute_bound_microseconds);
    bound.extend([us_cell.as_str(), "100.0%", "", "", ""]);
    table_row(&mut t, &bound);
    if let Some(p) = &b.published {
        let mut row = vec![p.source.to_string()];
        row.extend(cycles.iter().map(|_| String::new()));
        row.push(format!("{:.1}", p.microseconds));
        row.extend(["", "", "", ""].map(String::from));
        table_row(&mut t, &row);
    }
    t
}

impl WorkloadReport {
    /// `layers.csv`: one row per SpMxV per scheme (only `bbs` without baselines).
    pub fn to_csv(&self) -> String {
        let rows = self.layers.iter().flat_map(|layer| {
            layer.spmv.iter().flat_map(move |s| {
                scheme_rows(self.baselines.as_ref(), &self.bbs_rows, s.matrix)
                    .iter()
                    .map(move |r| layers_row(layer.index, s.matrix, &s.name, s.rows, s.cols, r))
            })
        });
        csv_string(&CSV_COLUMNS, rows)
    }

    /// The short human summary printed by `bbs sim --workload`.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let f = self.frames.first().expect("a report has a frame");
        let w = &self.workload;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} on '{}' ({} PEs x {} multipliers, {} MHz): sparsity {}, {} frame(s), seed {}",
            w.name, c.name, c.pes, c.banks, c.host.clock_mhz, w.sparsity, w.frames, w.seed
        );
        let _ = writeln!(
            s,
            "  {}: {} cycles = {:.2} us (PE {}, EWOP {}, ACT {}, DMA {}); multiplier utilization {}; SpMxV compute bound {:.0} cycles",
            if c.overlap.units {
                "frame 0"
            } else {
                "per frame"
            },
            f.cycles,
            f.microseconds,
            f.units.pe,
            f.units.ewop,
            f.units.act,
            f.units.dma,
            pct(f.multiplier_utilization),
            self.compute_bound_cycles
        );
        if self.config.overlap.units {
            let st = &self.steady_frame;
            let _ = writeln!(
                s,
                "  steady state (frames overlap): {} cycles = {:.2} us per frame; multipliers busy {}",
                st.cycles,
                st.microseconds,
                pct(st.multipliers_busy)
            );
        }
        s.push_str(&self.ablation_table());
        for l in &self.layers {
            for m in &l.spmv {
                spmv_line(
                    &mut s,
                    &m.name,
                    m.rows,
                    m.cols,
                    m.banks,
                    m.slots,
                    &m.cycles,
                    m.utilization,
                );
            }
        }
        let a = &self.accuracy;
        let _ = writeln!(
            s,
            "  outputs bit-exact against the fixed-point reference ({} values); max |fixed - float| = {:.5} ({:.1} LSB), mean {:.5}",
            a.values,
            a.max_abs_error,
            a.max_abs_error / a.lsb,
            a.mean_abs_error
        );
        s.push_str(&resources_line(&self.resources));
        s
    }

    /// The overlap ablation, one line per step: the steady-state frame in
    /// cycles and microseconds, the multipliers' busy share, and a mark on
    /// the row this configuration runs.
    pub fn ablation_table(&self) -> String {
        let mut s = String::from("  ablation (steady-state frame):\n");
        let width = self
            .ablation
            .iter()
            .map(|r| r.step.len())
            .max()
            .unwrap_or(0);
        for r in &self.ablation {
            let _ = writeln!(
                s,
                "    {:<width$}  {:>6} cycles  {:>7.2} us  busy {:>6}  vector memory {:>6}{}",
                r.step,
                r.cycles,
                r.microseconds,
                pct(r.multipliers_busy),
                r.vector_words,
                if r.overlap.same_techniques(&self.config.overlap) {
                    "  <- this configuration"
                } else {
                    ""
                }
            );
        }
        s
    }

    /// The Markdown table of schemes (with `--baselines`): per-frame cycles,
    /// microseconds, utilization and resources, the compute bound, and the
    /// published reference when there is one.
    pub fn baseline_table(&self) -> Option<String> {
        let (mhz, device) = (self.config.host.clock_mhz, self.resources.device);
        self.baselines
            .as_ref()
            .map(|b| schemes_table(b, mhz, device, true))
    }
}

impl ModelReport {
    /// `layers.csv`: one row per simulated layer per scheme (only `bbs`
    /// without baselines); the columns of [`CSV_COLUMNS`], with `layer` and
    /// `matrix` both the layer's index in the manifest.
    pub fn to_csv(&self) -> String {
        let rows = self.layers.iter().enumerate().flat_map(|(i, l)| {
            scheme_rows(self.baselines.as_ref(), &self.bbs_rows, i)
                .iter()
                .map(move |r| layers_row(l.index, l.index, &l.name, l.shape[0], l.shape[1], r))
        });
        csv_string(&CSV_COLUMNS, rows)
    }

    /// The short human summary printed by `bbs sim --model`.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let m = &self.model;
        let t = &self.total;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model '{}' on '{}' ({} PEs x {} multipliers, {} MHz): {} of {} layer(s) simulated, {} skipped; input seed {}",
            shown(&m.name), c.name, c.pes, c.banks, c.host.clock_mhz, m.simulated, m.layers, m.skipped, m.seed
        );
        let _ = writeln!(
            s,
            "  all layers once: {} cycles = {:.2} us; multiplier utilization {}; compute bound {:.0} cycles; matrix memory {} of {} words per PE{}",
            t.cycles,
            t.microseconds,
            pct(t.utilization),
            t.compute_bound_cycles,
            m.matrix_words_per_pe,
            m.matrix_depth,
            if m.fits_matrix_memory { "" } else { " (the layers do not fit at once)" }
        );
        for l in &self.layers {
            spmv_line(
                &mut s,
                &l.name,
                l.shape[0],
                l.shape[1],
                l.banks,
                l.slots,
                &l.cycles,
                l.utilization,
            );
        }
        for k in &self.skipped {
            let _ = writeln!(s, "  skipped {}: {}", shown(&k.name), shown(&k.reason));
        }
        s.push_str(&resources_line(&self.resources));
        s
    }

    /// The Markdown table of schemes (with baselines): cycles and
    /// microseconds of all layers run once, utilization and resources.
    pub fn baseline_table(&self) -> Option<String> {
        let (mhz, device) = (self.config.host.clock_mhz, self.resources.device);
        self.baselines
            .as_ref()
            .map(|b| schemes_table(b, mhz, device, false))
    }
}

#[cfg(test)]
mod tests {
    use super::csv_string;

    #[test]
    fn csv_quotes_only_fields_that_need_it() {
        let rows = [
            ["plain", "1.500", ""],
            ["a,b", "say \"hi\"", "two\nlines"],
            ["carriage\rreturn", " spaced ", "#"],
        ];
        let want = concat!(
            "name,value,note\n",
            "plain,1.500,\n",
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n",
            "\"carriage\rreturn\", spaced ,#\n",
        );
        assert_eq!(csv_string(&["name", "value", "note"], rows), want);
    }
}
