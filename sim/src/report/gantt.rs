//! The timeline picture of one frame: a Gantt chart with one lane per unit
//! of the machine (DMA in, DMA out, vector load, PEs, EWOP, ACT), each busy
//! interval a bar in its lane, drawn as SVG (`timeline.svg` of `bbs sim
//! --workload --out-dir`).
//!
//! Three steps, so that any schedule can be drawn, serialized or overlapped:
//!
//! 1. [`LaneSpan`]: one busy interval of one unit, `[start, end)` in cycles,
//!    with the instruction it belongs to. [`frame_spans`] makes them from
//!    what the machine reports ([`crate::machine::RunReport::timeline`]);
//!    any other schedule (one whose units run concurrently, say) only has to
//!    produce such a list. Spans of different lanes may overlap in time, and
//!    so may spans of one lane.
//! 2. [`Gantt`]: the chart, spans sorted into lanes ([`Gantt::from_spans`]);
//!    plain data, so it can also be built by hand.
//! 3. [`render_svg`]: the picture, hand-written SVG text: the same chart
//!    gives the same bytes; text is escaped for XML.

use crate::arch::timing;
use crate::config::Config;
use crate::isa::{EwOp, Instr};
use crate::machine::{InstrTiming, Unit};
use bbs_compress::{shown, Csb};
use serde::Serialize;
use std::fmt::Write as _;

/// A Gantt chart: lanes of busy spans over `cycles` cycles of a clock of
/// `clock_mhz` MHz.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gantt {
    pub title: String,
    /// The length of what is drawn (one frame); spans may end later, and the
    /// axis then runs to the last span's end.
    pub cycles: u64,
    /// The clock, for the axis in microseconds (none when not positive).
    pub clock_mhz: f64,
    /// Drawn top to bottom.
    pub lanes: Vec<GanttLane>,
}

/// One unit's row of the chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GanttLane {
    pub name: String,
    pub spans: Vec<GanttSpan>,
}

/// One bar: the unit busy in cycles `[start, end)` for instruction `instr`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GanttSpan {
    pub start: u64,
    pub end: u64,
    /// What the unit does, e.g. `spmv gates, vector load` or `act sigmoid`.
    pub label: String,
    /// Index of the instruction in the program.
    pub instr: usize,
}

impl GanttSpan {
    pub fn cycles(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

impl GanttLane {
    /// Cycles of `[from, to)` in which at least one span of the lane is busy
    /// (overlapping spans counted once).
    pub fn busy_cycles(&self, from: u64, to: u64) -> u64 {
        let mut parts: Vec<(u64, u64)> = self
            .spans
            .iter()
            .map(|s| (s.start.max(from), s.end.min(to)))
            .filter(|(s, e)| s < e)
            .collect();
        parts.sort_unstable();
        let (mut busy, mut reach) = (0u64, from);
        for (s, e) in parts {
            let s = s.max(reach);
            if e > s {
                busy += e - s;
                reach = e;
            }
        }
        busy
    }
}

impl Gantt {
    /// The chart of `spans`: one lane per [`Lane`], always all six, in the
    /// order of [`Lane::ALL`]; in a lane the spans are sorted by start, end,
    /// instruction and label. Empty spans (`end <= start`) are left out.
    pub fn from_spans(
        title: impl Into<String>,
        cycles: u64,
        clock_mhz: f64,
        spans: impl IntoIterator<Item = LaneSpan>,
    ) -> Gantt {
        let mut lanes: Vec<GanttLane> = Lane::ALL
            .iter()
            .map(|l| GanttLane {
                name: l.name().to_string(),
                spans: Vec::new(),
            })
            .collect();
        for s in spans.into_iter().filter(|s| s.end > s.start) {
            lanes[s.lane.index()].spans.push(GanttSpan {
                start: s.start,
                end: s.end,
                label: s.label,
                instr: s.instr,
            });
        }
        for l in &mut lanes {
            l.spans.sort_by(|a, b| {
                (a.start, a.end, a.instr, &a.label).cmp(&(b.start, b.end, b.instr, &b.label))
            });
        }
        Gantt {
            title: title.into(),
            cycles,
            clock_mhz,
            lanes,
        }
    }

    /// The cycles the axis covers: the frame, or up to the last span's end
    /// when that is later; at least 1.
    pub fn extent(&self) -> u64 {
        self.lanes
            .iter()
            .flat_map(|l| l.spans.iter().map(|s| s.end))
            .fold(self.cycles, u64::max)
            .max(1)
    }

    /// Spans of every lane.
    pub fn span_count(&self) -> usize {
        self.lanes.iter().map(|l| l.spans.len()).sum()
    }

    /// The fraction of the frame's `cycles` in which lane `lane` is busy
    /// (0 for a frame of 0 cycles).
    pub fn busy_fraction(&self, lane: usize) -> f64 {
        if self.cycles == 0 {
            return 0.0;
        }
        self.lanes[lane].busy_cycles(0, self.cycles) as f64 / self.cycles as f64
    }
}

/// The lanes of a frame's timeline, in the order they are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Lane {
    /// `load`: the host's input into the vector memory.
    DmaIn,
    /// `store`: the vector memory out to the host.
    DmaOut,
    /// `spmv`'s dispatch cycle and its copy of the input vector into the
    /// PEs' private vector banks (`bank_size` cycles).
    VectorLoad,
    /// `spmv`'s compute and drain: the PE array at work.
    Pe,
    Ewop,
    Act,
}

impl Lane {
    pub const ALL: [Lane; 6] = [
        Lane::DmaIn,
        Lane::DmaOut,
        Lane::VectorLoad,
        Lane::Pe,
        Lane::Ewop,
        Lane::Act,
    ];

    /// The name drawn at the lane's left.
    pub fn name(self) -> &'static str {
        match self {
            Lane::DmaIn => "DMA in",
            Lane::DmaOut => "DMA out",
            Lane::VectorLoad => "vector load",
            Lane::Pe => "PEs",
            Lane::Ewop => "EWOP",
            Lane::Act => "ACT",
        }
    }

    /// Position in [`Lane::ALL`] (and in [`Gantt::lanes`] of [`Gantt::from_spans`]).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One busy interval of one unit, `[start, end)` in cycles: what a
/// [`Gantt`] is built from ([`Gantt::from_spans`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneSpan {
    pub lane: Lane,
    pub start: u64,
    pub end: u64,
    /// Index of the instruction in the program.
    pub instr: usize,
    pub label: String,
}

/// What an instruction does, in a few words: `load`, `store`, `spmv NAME`
/// (`NAME` from `matrix_names`, else `matrix N`), `ewop mul`, `act tanh`.
pub fn instr_label(instr: &Instr, matrix_names: &[String]) -> String {
    match *instr {
        Instr::Load { .. } => "load".into(),
        Instr::Store { .. } => "store".into(),
        Instr::Spmv { matrix, .. } => match matrix_names.get(matrix) {
            Some(name) => format!("spmv {name}"),
            None => format!("spmv matrix {matrix}"),
        },
        Instr::Ewop { func, .. } => {
            let f = match func {
                EwOp::Add => "add",
                EwOp::Sub => "sub",
                EwOp::Mul => "mul",
                EwOp::Copy => "copy",
            };
            format!("ewop {f}")
        }
        Instr::Act { func, .. } => format!("act {}", func.name()),
    }
}

/// The spans of one instruction that keeps its unit busy as `t` says
/// (`t.cycles` cycles from `t.start`): `load` on DMA in, `store` on DMA out, `ewop` on
/// EWOP, `act` on ACT, each for the whole instruction; an `spmv` split by
/// [`timing::spmv`] into its dispatch cycle and vector load (`1 +
/// bank_size` cycles) on the vector-load lane, and the rest (compute and
/// drain, with `memory.matrix = "dram"` the wait for the matrix stream too)
/// on the PE lane. `matrices` are the program's (an `spmv` of a matrix not
/// among them is drawn whole on the PE lane).
pub fn instr_spans(
    cfg: &Config,
    matrices: &[Csb],
    matrix_names: &[String],
    instr: &Instr,
    t: &InstrTiming,
) -> Vec<LaneSpan> {
    let label = instr_label(instr, matrix_names);
    let (index, start, cycles) = (t.index, t.start, t.cycles);
    let end = start + cycles;
    let span = |lane, start, end, label| LaneSpan {
        lane,
        start,
        end,
        instr: index,
        label,
    };
    match *instr {
        Instr::Load { .. } => vec![span(Lane::DmaIn, start, end, label)],
        Instr::Store { .. } => vec![span(Lane::DmaOut, start, end, label)],
        Instr::Ewop { .. } => vec![span(Lane::Ewop, start, end, label)],
        Instr::Act { .. } => vec![span(Lane::Act, start, end, label)],
        Instr::Spmv { matrix, .. } => match matrices.get(matrix) {
            Some(csb) => {
                // The vector load takes its fixed cycles from dispatch; the
                // PEs start at `compute_start` (on the overlapped machine
                // possibly later: a wait, drawn as a gap between the bars).
                let b = timing::spmv(cfg, csb);
                let loaded = start + (b.start + b.load).min(cycles);
                let compute = t.compute_start.unwrap_or(loaded).clamp(loaded, end);
                vec![
                    span(
                        Lane::VectorLoad,
                        start,
                        loaded,
                        format!("{label}, vector load"),
                    ),
                    span(
                        Lane::Pe,
                        compute,
                        end,
                        format!("{label}, compute and drain"),
                    ),
                ]
            }
            None => vec![span(Lane::Pe, start, end, label)],
        },
    }
}

/// The spans of one pass of `program` as the machine ran it: `timeline` is
/// its [`crate::machine::RunReport::timeline`] (each entry's `index` names
/// an instruction of `program`), split by [`instr_spans`]. An entry whose
/// index is not in `program` is drawn on its unit's lane (DMA by `op`:
/// `store` out, anything else in).
pub fn frame_spans(
    cfg: &Config,
    program: &[Instr],
    matrices: &[Csb],
    matrix_names: &[String],
    timeline: &[InstrTiming],
) -> Vec<LaneSpan> {
    timeline
        .iter()
        .flat_map(|t| match program.get(t.index) {
            Some(instr) => instr_spans(cfg, matrices, matrix_names, instr, t),
            None => vec![LaneSpan {
                lane: match t.unit {
                    Unit::Dma if t.op == "store" => Lane::DmaOut,
                    Unit::Dma => Lane::DmaIn,
                    Unit::Pe => Lane::Pe,
                    Unit::Ewop => Lane::Ewop,
                    Unit::Act => Lane::Act,
                },
                start: t.start,
                end: t.start + t.cycles,
                instr: t.index,
                label: t.op.to_string(),
            }],
        })
        .collect()
}

/// Width of the picture, and its margins: lane names at the left, busy
/// percentages at the right, title above, the axis below.
pub const SVG_WIDTH: f64 = 1000.0;
pub const PLOT_LEFT: f64 = 100.0;
pub const PLOT_RIGHT: f64 = SVG_WIDTH - 70.0;
const TOP: f64 = 56.0;
const LANE_HEIGHT: f64 = 30.0;
const LANE_GAP: f64 = 10.0;
/// One colour per lane, in lane order (repeating after ten lanes).
const PALETTE: [&str; 10] = [
    "#9467bd", "#8c564b", "#17becf", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#e377c2",
    "#7f7f7f", "#bcbd22",
];

/// Text for XML: control characters shown as escapes (`\n`, `\u{1b}`),
/// the non-characters U+FFFE and U+FFFF replaced, `&<>"'` as entities.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in shown(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: at most two decimals, no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The tick step: 1, 2 or 5 times a power of ten, giving at most ten steps.
fn tick_step(extent: u64) -> u64 {
    let mut mag = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * mag;
            if step.saturating_mul(10) >= extent {
                return step;
            }
        }
        mag = mag.saturating_mul(10);
    }
}

/// The chart as SVG: one horizontal lane per [`GanttLane`] (name at the
/// left, the percentage of the frame it is busy at the right), each span a
/// rectangle of the lane's colour (`class="span"`, at least one pixel wide)
/// with a `<title>` tooltip (instruction, what it does, its cycles) and its
/// label written in it when there is room; below, a cycle axis with ticks,
/// and under each tick its time in microseconds at `clock_mhz`. Text is
/// escaped for XML; the same chart gives the same bytes.
pub fn render_svg(g: &Gantt) -> String {
    let extent = g.extent();
    let plot_w = PLOT_RIGHT - PLOT_LEFT;
    let x_of = |c: u64| PLOT_LEFT + plot_w * (c.min(extent) as f64 / extent as f64);
    let lane_y = |i: usize| TOP + i as f64 * (LANE_HEIGHT + LANE_GAP);
    let lanes_bottom = lane_y(g.lanes.len()) - if g.lanes.is_empty() { 0.0 } else { LANE_GAP };
    let axis_y = lanes_bottom + 8.0;
    let height = axis_y + 64.0;
    let mhz = (g.clock_mhz.is_finite() && g.clock_mhz > 0.0).then_some(g.clock_mhz);
    let center = num(SVG_WIDTH / 2.0);

    let mut s = String::new();
    // Writing to a String cannot fail.
    let mut w = |text: std::fmt::Arguments| s.write_fmt(text).expect("write to String");
    w(format_args!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        width = num(SVG_WIDTH),
        height = num(height),
    ));
    let title = xml_escape(&g.title);
    w(format_args!("<title>{title}</title>\n"));
    w(format_args!(
        "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    ));
    w(format_args!(
        "<text x=\"{center}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n"
    ));
    let length = match mhz {
        Some(m) => format!(
            "{} cycles = {:.3} \u{b5}s at {} MHz",
            g.cycles,
            g.cycles as f64 / m,
            num(m)
        ),
        None => format!("{} cycles", g.cycles),
    };
    w(format_args!(
        "<text x=\"{center}\" y=\"40\" text-anchor=\"middle\" fill=\"#444444\">{length}; busy: share of the frame each unit works (hover a bar for its instruction)</text>\n"
    ));

    // Grid lines at the ticks, behind the lanes.
    let step = tick_step(extent);
    let ticks: Vec<u64> = (0..=extent / step).map(|i| i * step).collect();
    w(format_args!(
        "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n"
    ));
    for &t in &ticks {
        let x = num(x_of(t));
        w(format_args!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\n",
            num(TOP - 4.0),
            num(axis_y)
        ));
    }
    w(format_args!("</g>\n"));

    for (i, lane) in g.lanes.iter().enumerate() {
        let y = lane_y(i);
        let mid = num(y + LANE_HEIGHT / 2.0 + 4.0);
        let color = PALETTE[i % PALETTE.len()];
        let name = xml_escape(&lane.name);
        w(format_args!("<g class=\"lane\">\n"));
        w(format_args!(
            "<rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f4f4f4\"/>\n",
            num(PLOT_LEFT),
            num(y),
            num(plot_w),
            num(LANE_HEIGHT)
        ));
        w(format_args!(
            "<text x=\"{}\" y=\"{mid}\" text-anchor=\"end\">{name}</text>\n",
            num(PLOT_LEFT - 8.0)
        ));
        for span in &lane.spans {
            let x0 = x_of(span.start);
            let width = (x_of(span.end) - x0).max(1.0);
            let x0 = x0.min(PLOT_RIGHT - width);
            let label = xml_escape(&span.label);
            w(format_args!(
                "<rect class=\"span\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{color}\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>instruction {}: {label}; cycles {} to {} ({} cycles)</title></rect>\n",
                num(x0),
                num(y + 2.0),
                num(width),
                num(LANE_HEIGHT - 4.0),
                span.instr,
                span.start,
                span.end,
                span.cycles()
            ));
            // About 6.5 pixels a character at 11 pixels.
            if width >= 6.5 * span.label.chars().count() as f64 + 8.0 {
                w(format_args!(
                    "<text class=\"label\" x=\"{}\" y=\"{mid}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#ffffff\" pointer-events=\"none\">{label}</text>\n",
                    num(x0 + width / 2.0)
                ));
            }
        }
        w(format_args!(
            "<text class=\"busy\" x=\"{}\" y=\"{mid}\">{:.1}%</text>\n",
            num(PLOT_RIGHT + 8.0),
            100.0 * g.busy_fraction(i)
        ));
        w(format_args!("</g>\n"));
    }

    // The frame's end, when spans run past it.
    if extent > g.cycles {
        let x = num(x_of(g.cycles));
        w(format_args!(
            "<line class=\"frame-end\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#000000\" stroke-dasharray=\"4 3\"/>\n",
            num(TOP - 4.0),
            num(axis_y)
        ));
    }

    // The axis: cycles, and microseconds under them.
    w(format_args!(
        "<g class=\"axis\">\n<line x1=\"{}\" y1=\"{ay}\" x2=\"{}\" y2=\"{ay}\" stroke=\"#000000\"/>\n",
        num(PLOT_LEFT),
        num(PLOT_RIGHT),
        ay = num(axis_y)
    ));
    // Enough decimals to tell the ticks apart exactly (0.25 us, not 0.2),
    // at most three.
    let us_decimals = mhz.map(|m| {
        let step_us = step as f64 / m;
        (0..3)
            .find(|&d| {
                let v = step_us * 10f64.powi(d);
                (v - v.round()).abs() < 1e-9 * v.max(1.0)
            })
            .unwrap_or(3) as usize
    });
    for &t in &ticks {
        let x = num(x_of(t));
        w(format_args!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#000000\"/>\n",
            num(axis_y),
            num(axis_y + 5.0)
        ));
        w(format_args!(
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{t}</text>\n",
            num(axis_y + 18.0)
        ));
        if let (Some(m), Some(d)) = (mhz, us_decimals) {
            w(format_args!(
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#666666\">{:.d$}</text>\n",
                num(axis_y + 31.0),
                t as f64 / m
            ));
        }
    }
    let axis_title = match mhz {
        Some(m) => format!("cycle (and \u{b5}s at {} MHz)", num(m)),
        None => "cycle".to_string(),
    };
    w(format_args!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{axis_title}</text>\n</g>\n</svg>\n",
        num((PLOT_LEFT + PLOT_RIGHT) / 2.0),
        num(axis_y + 52.0)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{run_workload, WorkloadOptions};

    fn span(lane: Lane, start: u64, end: u64, instr: usize, label: &str) -> LaneSpan {
        LaneSpan {
            lane,
            start,
            end,
            instr,
            label: label.into(),
        }
    }

    /// A small chart: every lane, spans that overlap across lanes and within one.
    fn sample() -> Gantt {
        Gantt::from_spans(
            "sample <&> \"frame\"",
            400,
            200.0,
            vec![
                span(Lane::Act, 300, 340, 5, "act tanh"),
                span(Lane::DmaIn, 0, 70, 0, "load"),
                span(Lane::VectorLoad, 70, 88, 1, "spmv gates, vector load"),
                span(Lane::Pe, 88, 250, 1, "spmv gates, compute and drain"),
                span(Lane::Pe, 200, 260, 2, "spmv proj, compute and drain"),
                span(Lane::Ewop, 250, 300, 3, "ewop mul"),
                span(Lane::Ewop, 260, 261, 4, "ewop add"),
                span(Lane::DmaOut, 340, 400, 6, "store"),
                span(Lane::DmaIn, 380, 380, 7, "empty: left out"),
            ],
        )
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).expect("the SVG is well-formed XML")
    }

    fn attr(n: &roxmltree::Node, name: &str) -> f64 {
        n.attribute(name).unwrap().parse().unwrap()
    }

    fn class<'a, 'i>(
        doc: &'a roxmltree::Document<'i>,
        tag: &'a str,
        class: &'a str,
    ) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
        doc.descendants()
            .filter(move |n| n.has_tag_name(tag) && n.attribute("class") == Some(class))
    }

    #[test]
    fn spans_are_sorted_into_the_six_lanes() {
        let g = sample();
        let names: Vec<&str> = g.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["DMA in", "DMA out", "vector load", "PEs", "EWOP", "ACT"]
        );
        assert_eq!(g.span_count(), 8, "the empty span is left out");
        assert_eq!(g.lanes[0].spans.len(), 1);
        let pe: Vec<usize> = g.lanes[3].spans.iter().map(|s| s.instr).collect();
        assert_eq!(pe, [1, 2]);
        // Overlapping spans of one lane are busy once: 88..260.
        assert_eq!(g.lanes[3].busy_cycles(0, 400), 172);
        assert_eq!(g.lanes[3].busy_cycles(100, 210), 110);
        assert_eq!(g.lanes[4].busy_cycles(0, 400), 50);
        assert!((g.busy_fraction(3) - 172.0 / 400.0).abs() < 1e-12);
        assert_eq!(g.extent(), 400);
    }

    #[test]
    fn the_svg_parses_with_a_lane_each_and_a_rect_per_span() {
        let g = sample();
        let svg = render_svg(&g);
        let doc = parse(&svg);
        let root = doc.root_element();
        assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
        let lanes: Vec<_> = class(&doc, "g", "lane").collect();
        assert_eq!(lanes.len(), 6);
        for (lane, want) in lanes.iter().zip(&g.lanes) {
            let texts: Vec<&str> = lane
                .children()
                .filter(|n| n.has_tag_name("text"))
                .filter_map(|n| n.text())
                .collect();
            assert_eq!(texts[0], want.name);
            assert!(texts.last().unwrap().ends_with('%'));
        }
        let busy: Vec<&str> = class(&doc, "text", "busy")
            .map(|n| n.text().unwrap())
            .collect();
        assert_eq!(busy, ["17.5%", "15.0%", "4.5%", "43.0%", "12.5%", "10.0%"]);
        assert_eq!(class(&doc, "rect", "span").count(), g.span_count());
        // Every bar inside the plot and inside its lane's band; its tooltip names it.
        for (lane, want) in lanes.iter().zip(&g.lanes) {
            let band = lane
                .children()
                .find(|n| n.attribute("class") == Some("band"))
                .unwrap();
            let (by, bh) = (attr(&band, "y"), attr(&band, "height"));
            let bars: Vec<_> = lane
                .children()
                .filter(|n| n.attribute("class") == Some("span"))
                .collect();
            assert_eq!(bars.len(), want.spans.len());
            for (bar, s) in bars.iter().zip(&want.spans) {
                let (x, w) = (attr(bar, "x"), attr(bar, "width"));
                let (y, h) = (attr(bar, "y"), attr(bar, "height"));
                assert!(x >= PLOT_LEFT && x + w <= PLOT_RIGHT + 1e-9, "{x} {w}");
                assert!(w >= 1.0);
                assert!(y >= by && y + h <= by + bh);
                let tip = bar.first_element_child().unwrap();
                assert!(tip.has_tag_name("title"));
                let tip = tip.text().unwrap();
                assert!(tip.starts_with(&format!("instruction {}: {}", s.instr, s.label)));
                assert!(tip.ends_with(&format!("({} cycles)", s.cycles())), "{tip}");
            }
        }
        // The axis: ticks every 50 cycles with microseconds at 200 MHz.
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for t in ["0", "50", "400", "0.25", "2.00"] {
            assert!(texts.contains(&t), "{t} missing from {texts:?}");
        }
        // The title, escaped in the file, reads back as given.
        assert!(texts.contains(&"sample <&> \"frame\""));
        assert!(svg.contains("sample &lt;&amp;&gt; &quot;frame&quot;"));
    }

    #[test]
    fn the_same_chart_gives_the_same_bytes() {
        assert_eq!(render_svg(&sample()), render_svg(&sample()));
        // Spans given in another order make the same chart.
        let g = sample();
        let mut spans: Vec<LaneSpan> = Lane::ALL
            .iter()
            .zip(&g.lanes)
            .flat_map(|(&lane, l)| {
                l.spans
                    .iter()
                    .map(move |s| span(lane, s.start, s.end, s.instr, &s.label))
            })
            .collect();
        spans.reverse();
        let again = Gantt::from_spans(g.title.clone(), g.cycles, g.clock_mhz, spans);
        assert_eq!(again, g);
        assert_eq!(render_svg(&again), render_svg(&g));
    }

    #[test]
    fn hostile_text_stays_one_well_formed_document() {
        let mut g = sample();
        g.title = "a\u{1b}[31m\n<script>&\u{ffff}'".into();
        g.lanes[0].name = "</g><g>".into();
        g.lanes[1].spans[0].label = "]]><!--".into();
        let svg = render_svg(&g);
        let doc = parse(&svg);
        assert_eq!(class(&doc, "g", "lane").count(), 6);
        assert!(!svg.contains('\u{1b}'));
        assert!(!svg.contains("<script>"));
        let title = doc
            .root_element()
            .first_element_child()
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(title, "a\\u{1b}[31m\\n<script>&\u{fffd}'");
    }

    #[test]
    fn spans_past_the_frame_widen_the_axis_and_no_clock_drops_microseconds() {
        let g = Gantt::from_spans(
            "overlap",
            100,
            0.0,
            vec![
                span(Lane::Pe, 0, 100, 0, "spmv"),
                span(Lane::DmaIn, 60, 130, 1, "load"),
            ],
        );
        assert_eq!(g.extent(), 130);
        // Busy within the frame only.
        assert!((g.busy_fraction(0) - 0.4).abs() < 1e-12);
        let svg = render_svg(&g);
        let doc = parse(&svg);
        assert_eq!(class(&doc, "line", "frame-end").count(), 1);
        assert!(!svg.contains('\u{b5}'));
        for bar in class(&doc, "rect", "span") {
            assert!(attr(&bar, "x") + attr(&bar, "width") <= PLOT_RIGHT + 1e-9);
        }
        // An empty chart still draws its lanes.
        let empty = Gantt::from_spans("empty", 0, 200.0, Vec::new());
        let svg = render_svg(&empty);
        let doc = parse(&svg);
        assert_eq!(class(&doc, "g", "lane").count(), 6);
        assert_eq!(class(&doc, "rect", "span").count(), 0);
    }

    #[test]
    fn tick_steps_are_one_two_five() {
        let steps: Vec<u64> = [1, 9, 10, 11, 35, 100, 101, 1035, 12660, u64::MAX]
            .into_iter()
            .map(tick_step)
            .collect();
        assert_eq!(steps[..9], [1, 1, 1, 2, 5, 10, 20, 200, 2000]);
        assert!(steps[9] > 0);
    }

    #[test]
    fn a_workload_frame_tiles_the_lanes() {
        let cfg = Config::default();
        let opts = WorkloadOptions {
            workload: "small-lstm".into(),
            frames: 1,
            ..WorkloadOptions::default()
        };
        let r = run_workload(&cfg, &opts).unwrap().report;
        let g = &r.gantt;
        assert_eq!(g.cycles, r.frame_cycles());
        assert_eq!(g.clock_mhz, cfg.host.clock_mhz as f64);
        // One span per instruction, two per spmv.
        let spmvs: Vec<&crate::report::SpmvInfo> = r.layers.iter().flat_map(|l| &l.spmv).collect();
        assert_eq!(g.span_count(), r.timeline.len() + spmvs.len());
        // Instructions run one after another: the lanes tile the frame.
        let busy: u64 = g.lanes.iter().map(|l| l.busy_cycles(0, g.cycles)).sum();
        assert_eq!(busy, g.cycles);
        assert_eq!(g.extent(), g.cycles);
        // Each spmv: dispatch and vector load, then compute and drain.
        for s in &spmvs {
            let t = &r.timeline[s.instruction];
            let load = g.lanes[Lane::VectorLoad.index()]
                .spans
                .iter()
                .find(|x| x.instr == s.instruction)
                .unwrap();
            let pe = g.lanes[Lane::Pe.index()]
                .spans
                .iter()
                .find(|x| x.instr == s.instruction)
                .unwrap();
            assert_eq!((load.start, load.end), (t.start, pe.start));
            assert_eq!(load.cycles(), 1 + s.bank_size as u64);
            assert_eq!(pe.end, t.start + t.cycles);
            assert_eq!(pe.cycles(), s.cycles.compute + s.cycles.drain);
            assert!(pe.label.starts_with(&format!("spmv {}", s.name)));
        }
        // Loads and stores on their own lanes.
        for t in &r.timeline {
            let lane = match t.op {
                "load" => Lane::DmaIn,
                "store" => Lane::DmaOut,
                "ewop" => Lane::Ewop,
                "act" => Lane::Act,
                _ => continue,
            };
            let s = g.lanes[lane.index()]
                .spans
                .iter()
                .find(|x| x.instr == t.index)
                .unwrap();
            assert_eq!((s.start, s.cycles()), (t.start, t.cycles));
        }
        let svg = render_svg(g);
        assert_eq!(
            parse(&svg)
                .descendants()
                .filter(|n| n.attribute("class") == Some("span"))
                .count(),
            g.span_count()
        );
    }
}
