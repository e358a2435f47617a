//! The one accelerator configuration, taken by the simulator and the generator.

use crate::arith::{ceil_log2, clog2};
use bbs_compress::{Csb, QFormat};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Pipeline register stages of a PE, beyond the fixed one-cycle reads of the
/// matrix memory and the vector banks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Register stages after the multipliers (at least 1: the DSP output register).
    pub mult_stages: u32,
    /// Register stages after the (combinational) adder tree; synthesis retimes them into the tree.
    pub adder_stages: u32,
}

/// An accelerator: `pes` PEs, each with `banks` multipliers, a `banks`-input
/// adder tree and one accumulator, and a private copy of the input vector split
/// into `banks` vector banks. Row `r` of the matrix runs on PE `r % pes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A name for reports and generated file headers.
    pub name: String,
    /// Number of processing elements (rows in flight).
    pub pes: usize,
    /// Banks per row = multipliers per PE (K).
    pub banks: usize,
    /// Total bits of weights, inputs and outputs (two's complement).
    pub value_width: u32,
    /// Fraction bits of weights, inputs and outputs.
    pub frac_bits: u32,
    /// Accumulator bits; at least `2 * value_width + ceil(log2 banks)`.
    pub acc_width: u32,
    /// Largest matrix (rows) the memories hold.
    pub max_rows: usize,
    /// Largest matrix (columns) the vector banks hold.
    pub max_cols: usize,
    /// Largest number of nonzeros per bank (CSB words per row) the matrix memory holds.
    pub max_slots: usize,
    pub pipeline: Pipeline,
    /// The element-wise (EWOP) and activation (ACT) units.
    #[serde(default)]
    pub ewop: Ewop,
    /// Where the matrices live and the sizes of the other memories.
    #[serde(default)]
    pub memory: Memory,
    /// The host link (PCIe DMA) and the clock.
    #[serde(default)]
    pub host: Host,
    /// Which units run concurrently (docs/architecture.md, "The overlapped
    /// machine"); all off is the serialized machine, and is not written out.
    #[serde(default, skip_serializing_if = "Overlap::is_serialized")]
    pub overlap: Overlap,
}

/// The overlap techniques, one switch each, so that every step of the
/// ablation (serialized, then each technique added) stays reachable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlap {
    /// The units (DMA in, DMA out, vector load, PE array, EWOP/ACT) each
    /// follow their own instructions and start one as soon as its unit is
    /// free and its waits are met, instead of one instruction at a time.
    #[serde(default)]
    pub units: bool,
    /// Copies of the PEs' private vector banks: with 2, the next SpMxV's
    /// vector loads while the current one computes.
    #[serde(default = "one")]
    pub vector_buffers: usize,
    /// A consumer starts on the elements its producer has already written
    /// (element by element), instead of after the producer's last write.
    #[serde(default)]
    pub chaining: bool,
    /// The activation unit (ACT: PWL sigmoid and tanh) has lanes of its
    /// own and runs beside the EWOP unit, instead of the two sharing one
    /// element-wise pipeline.
    #[serde(default)]
    pub act_unit: bool,
    /// Software pipelining: the next frame's input product (`W_ih x + b`
    /// of the first layer, which needs no state) is issued while this
    /// frame's cell update and projection finish, so the PE array fills the
    /// gap instead of idling.
    #[serde(default)]
    pub input_ahead: bool,
    /// Bank-interleaved vectors: the program generator stores every vector
    /// an SpMxV loads with column `c` at offset `(c % bank_size) * banks +
    /// c / bank_size`, so the vector load reads it as a run of consecutive
    /// elements (`banks * load_width` a cycle, element `a` into private bank
    /// `a % banks` at position `a / banks`) through one run port of the
    /// vector memory instead of `banks` ports at strided addresses, and
    /// starts on a vector while its producer still writes it (chained like
    /// any other reader). The pattern stays bank-balanced over contiguous
    /// column ranges: only where the elements sit changes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interleaved: bool,
    /// Elements each private vector bank takes per cycle of the vector load
    /// (1, 2 or 4; more than 1 needs `interleaved`): each bank is split into
    /// `load_width` sub-banks by position, so a vector loads in
    /// `ceil(bank_size / load_width)` cycles.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub load_width: usize,
    /// How the overlapped machine's vector memory is split among its
    /// writers (each part has one writer, so its banks have one write port:
    /// [`crate::overlap::regions`]). Absent: a fixed split of
    /// `memory.vector_words`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionWords>,
    /// Words at the start of each writer's part that the SpMxV vector load
    /// reads: only those banks have its `banks` read ports, the rest of a
    /// part has the run ports alone ([`crate::overlap::regions`]). Absent:
    /// every word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadable: Option<RegionWords>,
}

/// Words of the vector memory each writer owns, in address order: the DMA
/// in, the PE array, the ACT lanes (with `overlap.act_unit`), the EWOP
/// lanes. They add up to `memory.vector_words`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionWords {
    pub dma: usize,
    pub pe: usize,
    #[serde(default)]
    pub act: usize,
    pub ewop: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Overlap {
    fn default() -> Self {
        Overlap {
            units: false,
            vector_buffers: 1,
            chaining: false,
            act_unit: false,
            input_ahead: false,
            interleaved: false,
            load_width: 1,
            regions: None,
            loadable: None,
        }
    }
}

impl Overlap {
    /// Every technique on: the machine `bbs` recommends.
    pub fn all() -> Overlap {
        Overlap {
            units: true,
            vector_buffers: 2,
            chaining: true,
            act_unit: true,
            input_ahead: true,
            interleaved: false,
            load_width: 1,
            regions: None,
            loadable: None,
        }
    }
    /// [`Overlap::all`] with bank-interleaved vectors read by a two-wide
    /// vector load: the fastest machine, for networks whose vectors (those
    /// the machine writes and an SpMxV loads) fill whole bank rows.
    pub fn interleaved() -> Overlap {
        Overlap {
            interleaved: true,
            load_width: 2,
            ..Overlap::all()
        }
    }
    /// The same switches, whatever the vector memory's split.
    pub fn same_techniques(&self, other: &Overlap) -> bool {
        Overlap {
            regions: None,
            loadable: None,
            ..self.clone()
        } == Overlap {
            regions: None,
            loadable: None,
            ..other.clone()
        }
    }
    pub fn is_serialized(&self) -> bool {
        *self == Overlap::default()
    }
}

/// EWOP and ACT: `lanes` elements per cycle, `latency` cycles of pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ewop {
    pub lanes: usize,
    pub latency: u32,
}

impl Default for Ewop {
    fn default() -> Self {
        Ewop {
            lanes: 8,
            latency: 3,
        }
    }
}

/// Where the CSB matrices are read from during SpMxV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatrixStorage {
    /// Matrix memories on chip (block RAM), preloaded: one word per PE per cycle.
    Onchip,
    /// Streamed from DRAM at `dram_bytes_per_cycle` shared by all PEs.
    Dram,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub matrix: MatrixStorage,
    /// DRAM bandwidth when `matrix = "dram"`.
    pub dram_bytes_per_cycle: u32,
    /// Vector memory, in elements: inputs, states, gates, biases, temporaries.
    pub vector_words: usize,
    /// Instruction buffer, in instructions.
    pub instruction_words: usize,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            matrix: MatrixStorage::Onchip,
            dram_bytes_per_cycle: 64,
            vector_words: 16384,
            instruction_words: 256,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Clock of the accelerator, for reporting microseconds.
    pub clock_mhz: u32,
    /// DMA bandwidth of the host link, bytes per accelerator cycle.
    pub link_bytes_per_cycle: u32,
    /// Fixed cost of one DMA transfer, cycles.
    pub link_latency: u32,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            clock_mhz: 200,
            link_bytes_per_cycle: 16,
            link_latency: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read configuration: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { field, message }
}

impl Default for Config {
    /// The built-in default: 8 PEs x 8 multipliers, Q16.12 values, room for a
    /// 1024 x 512 matrix at up to 25% density.
    fn default() -> Self {
        Config {
            name: "default".into(),
            pes: 8,
            banks: 8,
            value_width: 16,
            frac_bits: 12,
            acc_width: 40,
            max_rows: 1024,
            max_cols: 512,
            max_slots: 16,
            pipeline: Pipeline {
                mult_stages: 2,
                adder_stages: 1,
            },
            ewop: Ewop::default(),
            memory: Memory::default(),
            host: Host::default(),
            overlap: Overlap::default(),
        }
    }
}

impl Config {
    /// Parse and validate a TOML configuration; errors name the file or the field.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.message().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`Config::from_toml_str`] on a file: a regular file of at most 16 MiB
    /// ([`bbs_compress::input::read_text`]).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = bbs_compress::input::read_text(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Config always serializes")
    }

    /// Whole elements per host-link (DMA, AXI4-Stream) beat: each element
    /// takes `ceil(value_width / 8)` bytes of the `link_bytes_per_cycle`.
    pub fn beat_elements(&self) -> usize {
        (self.host.link_bytes_per_cycle as usize / self.value_width.div_ceil(8) as usize).max(1)
    }

    /// Check that the combination can be built; the first problem found names its field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                "name",
                format!(
                    "'{}' must be non-empty ASCII letters, digits, '_' or '-'",
                    self.name
                ),
            ));
        }
        if !(1..=256).contains(&self.pes) {
            return Err(invalid("pes", format!("{} is outside 1..=256", self.pes)));
        }
        if !(1..=64).contains(&self.banks) {
            return Err(invalid(
                "banks",
                format!("{} is outside 1..=64", self.banks),
            ));
        }
        QFormat::new(self.value_width, self.frac_bits).map_err(|e| {
            let field = if (2..=32).contains(&self.value_width) {
                "frac_bits"
            } else {
                "value_width"
            };
            invalid(field, e.to_string())
        })?;
        let need = 2 * self.value_width + ceil_log2(self.banks);
        if self.acc_width < need || self.acc_width > 64 {
            return Err(invalid(
                "acc_width",
                format!(
                    "{} must be in {need}..=64 (2 x value_width + ceil(log2 banks) guard bits)",
                    self.acc_width
                ),
            ));
        }
        if self.max_rows == 0 || self.max_rows > 1 << 20 {
            return Err(invalid(
                "max_rows",
                format!("{} is outside 1..=1048576", self.max_rows),
            ));
        }
        if self.max_cols < self.banks || self.max_cols > 1 << 20 {
            return Err(invalid(
                "max_cols",
                format!(
                    "{} must be at least banks ({}) and at most 1048576",
                    self.max_cols, self.banks
                ),
            ));
        }
        if self.max_slots == 0 || self.max_slots > self.bank_depth() {
            return Err(invalid(
                "max_slots",
                format!(
                    "{} must be in 1..={} (the bank size, ceil(max_cols / banks))",
                    self.max_slots,
                    self.bank_depth()
                ),
            ));
        }
        if !(1..=8).contains(&self.pipeline.mult_stages) {
            return Err(invalid(
                "pipeline.mult_stages",
                format!("{} is outside 1..=8", self.pipeline.mult_stages),
            ));
        }
        if self.pipeline.adder_stages > 8 {
            return Err(invalid(
                "pipeline.adder_stages",
                format!("{} is outside 0..=8", self.pipeline.adder_stages),
            ));
        }
        if !(1..=256).contains(&self.ewop.lanes) {
            return Err(invalid(
                "ewop.lanes",
                format!("{} is outside 1..=256", self.ewop.lanes),
            ));
        }
        if self.ewop.latency > 16 {
            return Err(invalid(
                "ewop.latency",
                format!("{} is outside 0..=16", self.ewop.latency),
            ));
        }
        if self.memory.dram_bytes_per_cycle == 0 {
            return Err(invalid(
                "memory.dram_bytes_per_cycle",
                "must be at least 1".into(),
            ));
        }
        if self.memory.vector_words == 0 || self.memory.vector_words > 1 << 24 {
            return Err(invalid(
                "memory.vector_words",
                format!("{} is outside 1..=16777216", self.memory.vector_words),
            ));
        }
        if self.memory.instruction_words == 0 || self.memory.instruction_words > 65536 {
            return Err(invalid(
                "memory.instruction_words",
                format!("{} is outside 1..=65536", self.memory.instruction_words),
            ));
        }
        if self.host.clock_mhz == 0 || self.host.link_bytes_per_cycle == 0 {
            let field = if self.host.clock_mhz == 0 {
                "host.clock_mhz"
            } else {
                "host.link_bytes_per_cycle"
            };
            return Err(invalid(field, "must be at least 1".into()));
        }
        let o = &self.overlap;
        if !(1..=2).contains(&o.vector_buffers) {
            return Err(invalid(
                "overlap.vector_buffers",
                format!("{} is not 1 or 2", o.vector_buffers),
            ));
        }
        if ![1, 2, 4].contains(&o.load_width) {
            return Err(invalid(
                "overlap.load_width",
                format!("{} is not 1, 2 or 4", o.load_width),
            ));
        }
        if o.load_width > 1 && !o.interleaved {
            return Err(invalid(
                "overlap.load_width",
                "more than 1 needs overlap.interleaved = true (the vector load reads runs)".into(),
            ));
        }
        if o.interleaved && o.loadable.is_some() {
            return Err(invalid(
                "overlap.loadable",
                "not with overlap.interleaved: the vector load reads every word through a run port"
                    .into(),
            ));
        }
        if !o.units {
            let needs_units = [
                (o.vector_buffers == 2, "overlap.vector_buffers"),
                (o.chaining, "overlap.chaining"),
                (o.act_unit, "overlap.act_unit"),
                (o.input_ahead, "overlap.input_ahead"),
                (o.interleaved, "overlap.interleaved"),
                (o.regions.is_some(), "overlap.regions"),
                (o.loadable.is_some(), "overlap.loadable"),
            ];
            if let Some((_, field)) = needs_units.iter().find(|(on, _)| *on) {
                return Err(invalid(
                    field,
                    "needs overlap.units = true (units that run concurrently)".into(),
                ));
            }
        }
        let most = crate::overlap::tables::MAX_INSTRUCTIONS;
        if o.units && self.memory.instruction_words > most {
            return Err(invalid(
                "memory.instruction_words",
                format!(
                    "{} is over {most}: the overlapped machine's issue stage keeps start cycles per instruction",
                    self.memory.instruction_words
                ),
            ));
        }
        if o.units {
            crate::overlap::regions::WriterRegions::new(self)?;
        }
        if o.units && self.memory.matrix == MatrixStorage::Dram {
            return Err(invalid(
                "overlap.units",
                "the overlapped machine keeps its matrices on chip (memory.matrix = \"onchip\")"
                    .into(),
            ));
        }
        if self.host.link_bytes_per_cycle > 256 {
            return Err(invalid(
                "host.link_bytes_per_cycle",
                format!(
                    "{} is over 256 (one AXI4-Stream beat)",
                    self.host.link_bytes_per_cycle
                ),
            ));
        }
        Ok(())
    }

    pub fn format(&self) -> QFormat {
        QFormat {
            width: self.value_width,
            frac: self.frac_bits,
        }
    }

    /// Words in each vector bank: the largest bank size, `ceil(max_cols / banks)`.
    pub fn bank_depth(&self) -> usize {
        self.max_cols.div_ceil(self.banks)
    }

    /// Bits of a bank-internal index.
    pub fn index_width(&self) -> u32 {
        clog2(self.bank_depth())
    }

    /// Rows each PE holds at most.
    pub fn rows_per_pe(&self) -> usize {
        self.max_rows.div_ceil(self.pes)
    }

    /// Words in each PE's matrix memory.
    pub fn matrix_depth(&self) -> usize {
        self.rows_per_pe() * self.max_slots
    }

    /// Bits of one matrix-memory word: K values and K indices.
    pub fn matrix_word_width(&self) -> u32 {
        self.banks as u32 * (self.value_width + self.index_width())
    }

    /// Check that a CSB matrix fits this configuration; errors name the field.
    pub fn check_matrix(&self, csb: &Csb) -> Result<(), ConfigError> {
        if csb.banks != self.banks {
            return Err(invalid(
                "banks",
                format!(
                    "the matrix has {} banks per row, the configuration {}",
                    csb.banks, self.banks
                ),
            ));
        }
        if csb.format != self.format() {
            return Err(invalid(
                "value_width",
                format!(
                    "the matrix is Q{}.{}, the configuration Q{}.{} (value_width.frac_bits)",
                    csb.format.width, csb.format.frac, self.value_width, self.frac_bits
                ),
            ));
        }
        if csb.rows > self.max_rows {
            return Err(invalid(
                "max_rows",
                format!(
                    "the matrix has {} rows, the configuration holds {}",
                    csb.rows, self.max_rows
                ),
            ));
        }
        if csb.cols > self.max_cols {
            return Err(invalid(
                "max_cols",
                format!(
                    "the matrix has {} columns, the configuration holds {}",
                    csb.cols, self.max_cols
                ),
            ));
        }
        if csb.slots > self.max_slots {
            return Err(invalid(
                "max_slots",
                format!(
                    "the matrix keeps {} nonzeros per bank, the configuration holds {}",
                    csb.slots, self.max_slots
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_field(cfg: &Config) -> &'static str {
        match cfg.validate() {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid-field error, got {other:?}"),
        }
    }

    #[test]
    fn default_is_valid_and_roundtrips_through_toml() {
        let cfg = Config::default();
        cfg.validate().unwrap();
        let back = Config::from_toml_str(&cfg.to_toml(), "mem").unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn invalid_fields_are_named() {
        let base = Config::default();
        type Mutation = Box<dyn Fn(&mut Config)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("pes", Box::new(|c| c.pes = 0)),
            ("banks", Box::new(|c| c.banks = 0)),
            ("banks", Box::new(|c| c.banks = 65)),
            ("value_width", Box::new(|c| c.value_width = 40)),
            ("frac_bits", Box::new(|c| c.frac_bits = 16)),
            ("acc_width", Box::new(|c| c.acc_width = 34)),
            ("acc_width", Box::new(|c| c.acc_width = 65)),
            ("max_cols", Box::new(|c| c.max_cols = 4)),
            ("max_slots", Box::new(|c| c.max_slots = 65)),
            ("max_slots", Box::new(|c| c.max_slots = 0)),
            (
                "pipeline.mult_stages",
                Box::new(|c| c.pipeline.mult_stages = 0),
            ),
            (
                "pipeline.adder_stages",
                Box::new(|c| c.pipeline.adder_stages = 9),
            ),
            ("name", Box::new(|c| c.name = "a b".into())),
        ];
        for (field, mutate) in cases {
            let mut cfg = base.clone();
            mutate(&mut cfg);
            assert_eq!(err_field(&cfg), field);
        }
    }

    #[test]
    fn toml_errors_name_the_file_and_unknown_fields() {
        let text = Config::default()
            .to_toml()
            .replace("pes = 8", "pes = 8\nbogus = 1");
        let err = Config::from_toml_str(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
        let err = Config::from_toml_str("pes = \"many\"", "y.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("y.toml:"), "{err}");
    }

    #[test]
    fn derived_sizes() {
        let cfg = Config::default();
        assert_eq!(cfg.bank_depth(), 64);
        assert_eq!(cfg.index_width(), 6);
        assert_eq!(cfg.rows_per_pe(), 128);
        assert_eq!(cfg.matrix_depth(), 2048);
        assert_eq!(cfg.matrix_word_width(), 8 * 22);
    }
}
