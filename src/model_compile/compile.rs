//! `bbs compile MODEL -o DIR`: prune, quantize, build the program, write
//! the directory.

use super::onnx::{self, Host, HostOp};
use crate::say;
use anyhow::{bail, Context, Result};
use bbs_compress::{read_matrix, Csb, OutputPlan};
use bbs_sim::rnn::{Layer, Network};
use bbs_sim::workloads::{network_from_float_with, network_from_parts, FloatKind, FloatLayer};
use bbs_sim::Config;
use ndarray::Array2;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::calibrate::calibrate;
use super::layers::read_layer;
use super::{
    find_layers, InterleavedIo, LayerTensors, Manifest, ManifestLayer, StoredRows, MANIFEST_VERSION,
};

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// A trained model's state dict: .npz or .safetensors.
    pub model: PathBuf,
    /// The directory to write (created; its files are replaced).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Fraction of each matrix's weights to remove, in [0, 1).
    #[arg(long, default_value_t = 0.75, value_parser = crate::cli::number, allow_negative_numbers = true)]
    pub sparsity: f64,
    /// The tensor-name prefix of the network to compile, when the model
    /// holds several (e.g. `enc_` and `dec_`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Pick the fraction bits from the weights and from the activations of
    /// this input sequence (frames x features .npy): the most that keep
    /// every weight, input and result in range.
    #[arg(long, value_name = "INPUT.npy")]
    pub calibrate: Option<PathBuf>,
    /// Per-matrix sparsity (`bbs prune --layers` TOML: `[defaults]` and
    /// `[[layer]]` rules by tensor name or glob; `skip` keeps a matrix
    /// dense; `banks`, if given, must be the configuration's).
    #[arg(long, value_name = "L.toml", conflicts_with = "pruned")]
    pub layers: Option<PathBuf>,
    /// Take the matrices from a `bbs prune --out-dir` result instead of
    /// pruning (their banks and format must be the configuration's); the
    /// biases still come from MODEL.
    #[arg(long, value_name = "DIR", conflicts_with = "calibrate")]
    pub pruned: Option<PathBuf>,
}

pub fn compile(args: &CompileArgs) -> Result<()> {
    let mut plan = OutputPlan::new();
    plan.input("MODEL", &args.model);
    if let Some(c) = &args.config {
        plan.input("--config", c);
    }
    let dir = plan.dir("-o", &args.output)?;
    plan.check()?;
    if !(0.0..1.0).contains(&args.sparsity) {
        bail!("--sparsity: {} is not in [0, 1)", args.sparsity);
    }
    if let Some(c) = &args.calibrate {
        plan.input("--calibrate", c);
        plan.check()?;
    }
    let mut cfg = crate::flow::load_config(args.config.as_deref())?;
    let (tensors, float, host, io) = if onnx::is_recurrent_graph(&args.model)? {
        if args.prefix.is_some() {
            bail!(
                "--prefix: {} is an ONNX graph; its layers are its LSTM/GRU nodes (--prefix picks the tensors of a state dict)",
                args.model.display()
            );
        }
        let g = onnx::import(&args.model)?;
        (g.tensors, g.layers, g.host, Some((g.input, g.output)))
    } else {
        let tensors = find_layers(&args.model, args.prefix.as_deref())?;
        let float: Vec<FloatLayer> = tensors
            .iter()
            .map(|t| read_layer(&args.model, t))
            .collect::<Result<_>>()?;
        (tensors, float, Host::default(), None)
    };
    let label = file_name(&args.model);
    if let Some(l) = &args.layers {
        plan.input("--layers", l);
    }
    if let Some(p) = &args.pruned {
        plan.input("--pruned", p);
    }
    plan.check()?;
    let mut sparsities = matrix_sparsities(args, &cfg, &tensors)?;
    let sparsity = |k: usize, role: &str| sparsities[k].get(role).copied().unwrap_or(args.sparsity);
    let mut calibration = None;
    if let Some(path) = &args.calibrate {
        let x = read_matrix(path, None)?;
        let input = io.map_or_else(|| float.first().map_or(0, |l| l.w_ih.ncols()), |io| io.0);
        if x.ncols() != input {
            bail!(
                "{}: {} features per frame, the network takes {input}",
                path.display(),
                x.ncols()
            );
        }
        let x = host.to_accelerator(&x);
        let (frac, tried) = calibrate(&label, &cfg, &sparsity, &float, &x)?;
        let chosen = tried.iter().find(|c| c.frac_bits == frac).expect("tried");
        let above = tried.iter().find(|c| c.frac_bits == frac + 1);
        say!(
            "--calibrate: frac_bits {frac} (Q{}.{frac} in {} bits): {} weights, {} inputs and {} results of {} frames out of range{}",
            cfg.value_width - 1 - frac,
            cfg.value_width,
            chosen.weights_saturated,
            chosen.inputs_saturated,
            chosen.results_overflowed,
            x.nrows(),
            above.map_or(String::new(), |a| format!(
                "; frac_bits {}: {} weights, {} inputs, {} results",
                a.frac_bits, a.weights_saturated, a.inputs_saturated, a.results_overflowed
            ))
        )?;
        cfg.frac_bits = frac;
        calibration = Some(tried);
    }
    let net = match &args.pruned {
        Some(dir) => network_from_pruned(&cfg, &float, &tensors, dir)?,
        None => network_from_float_with(&label, &cfg, &sparsity, &float)?,
    };
    if args.pruned.is_some() {
        // The sparsity the pruned files hold: the slots they keep per bank.
        let kept = |c: &Csb| 1.0 - c.slots as f64 / c.bank_size.max(1) as f64;
        for (m, layer) in sparsities.iter_mut().zip(&net.layers) {
            let (w_ih, w_hh, w_hr) = match layer {
                Layer::Lstm(l) => (&l.w_ih, Some(&l.w_hh), l.proj.as_ref()),
                Layer::Gru(g) => (&g.w_ih, Some(&g.w_hh), None),
                Layer::Dense(d) => (&d.w, None, None),
            };
            m.insert("w_ih".into(), kept(w_ih));
            if let Some(w_hh) = w_hh {
                m.insert("w_hh".into(), kept(w_hh));
            }
            if let Some(p) = w_hr {
                m.insert("w_hr".into(), kept(p));
            }
        }
    }
    net.check()
        .with_context(|| format!("{}", args.model.display()))?;
    let compiled = net
        .compile(&cfg)
        .with_context(|| format!("{} on configuration '{}'", label, cfg.name))?;
    let machine = bbs_sim::machine::Machine::new(&cfg, compiled.matrices.clone())?;
    let cycles = machine.frame_cycles(&compiled.program, 6);
    let (first, steady) = (cycles[0], *cycles.last().expect("frames"));

    let mut layers = Vec::new();
    for (k, (layer, t)) in net.layers.iter().zip(&tensors).enumerate() {
        let mut csb = BTreeMap::new();
        let mut biases = BTreeMap::new();
        let mut put = |role: &str, m: &Csb, plan: &mut OutputPlan| -> Result<()> {
            let file = format!("layer{k}.{role}.csb");
            plan.part(dir, &file);
            m.write_into(plan.dest_in(dir, &file))?;
            csb.insert(role.to_string(), file);
            Ok(())
        };
        let (kind, hidden) = match layer {
            Layer::Lstm(l) => {
                put("w_ih", &l.w_ih, &mut plan)?;
                put("w_hh", &l.w_hh, &mut plan)?;
                if let Some(p) = &l.proj {
                    put("proj", p, &mut plan)?;
                }
                biases.insert("bias".to_string(), l.bias.clone());
                ("lstm", l.hidden)
            }
            Layer::Gru(g) => {
                put("w_ih", &g.w_ih, &mut plan)?;
                put("w_hh", &g.w_hh, &mut plan)?;
                biases.insert("b_ih".to_string(), g.b_ih.clone());
                biases.insert("b_hh".to_string(), g.b_hh.clone());
                ("gru", g.hidden)
            }
            Layer::Dense(d) => {
                put("w", &d.w, &mut plan)?;
                biases.insert("bias".to_string(), d.bias.clone());
                ("dense", d.w.rows)
            }
        };
        layers.push(ManifestLayer {
            act: match layer {
                Layer::Dense(d) => d.act,
                _ => None,
            },
            kind: kind.into(),
            sparsity: sparsities[k].clone(),
            tensors: t.clone(),
            input: layer.input(),
            hidden,
            output: layer.output(),
            csb,
            biases,
        });
    }
    // Dense host steps' weights beside the layers'.
    let mut host = host;
    for (place, steps) in [("before", &mut host.before), ("after", &mut host.after)] {
        for (k, step) in steps.iter_mut().enumerate() {
            if let HostOp::Dense { weight, .. } = &mut step.op {
                *weight = format!("host/{place}{k}.weight.npy");
                plan.part(dir, weight);
                let m = step
                    .matrix
                    .as_ref()
                    .expect("an imported dense step has its weight");
                plan.dest_in(dir, weight).write_npy(m)?;
            }
        }
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        bbs_version: env!("CARGO_PKG_VERSION").into(),
        model: label.clone(),
        sparsity: args.sparsity,
        config: cfg.name.clone(),
        layers,
        input: io.map_or(net.input(), |io| io.0),
        output: io.map_or(net.output(), |io| io.1),
        host: host.clone(),
        instructions: compiled.program.instrs.len(),
        calibration,
        first_frame_cycles: first,
        steady_frame_cycles: steady,
        steady_frame_us: steady as f64 / f64::from(cfg.host.clock_mhz),
        interleaved: compiled.program.host.load.map(|il| InterleavedIo {
            banks: il.banks,
            input_words: il.words(),
            output_words: compiled.program.host.store.map(|o| o.words()),
        }),
    };
    // The trained weights as they are, for `run`'s error against the dense
    // float model.
    for (k, l) in float.iter().enumerate() {
        let mut put = |role: &str, m: &Array2<f32>| -> Result<()> {
            let file = format!("dense/layer{k}.{role}.npy");
            plan.part(dir, &file);
            plan.dest_in(dir, &file).write_npy(m)?;
            Ok(())
        };
        put("w_ih", &l.w_ih)?;
        if !matches!(l.kind, FloatKind::Dense(_)) {
            put("w_hh", &l.w_hh)?;
        }
        if let Some(p) = &l.w_hr {
            put("w_hr", p)?;
        }
        let biases = Array2::from_shape_fn((2, l.b_ih.len()), |(r, j)| {
            if r == 0 {
                l.b_ih[j]
            } else {
                l.b_hh[j]
            }
        });
        put("biases", &biases)?;
    }
    // The memories' $readmemh images (matrices, program, issue tables,
    // vector memory) for the RTL `bbs hdl --config DIR/config.toml` builds;
    // no run (in.hex and run.hex come with `bbs verify --model`).
    image_files(&cfg, &compiled).stage(&mut plan, dir, "hex")?;
    plan.write_in(dir, "config.toml", cfg.to_toml().as_bytes())?;
    plan.write_in(
        dir,
        "manifest.json",
        format!("{}\n", serde_json::to_string_pretty(&manifest)?).as_bytes(),
    )?;
    plan.publish()?;
    let mut kinds: Vec<String> = manifest
        .layers
        .iter()
        .map(|l| format!("{} {} -> {}", l.kind, l.input, l.output))
        .collect();
    if manifest.host.reverse {
        kinds.push("in reverse".into());
    }
    for (place, steps) in [
        ("before", &manifest.host.before),
        ("after", &manifest.host.after),
    ] {
        if !steps.is_empty() {
            let nodes: Vec<&str> = steps.iter().map(|s| s.node.as_str()).collect();
            kinds.push(format!("on the host {place}: {}", nodes.join(", ")));
        }
    }
    if !manifest.host.folded.is_empty() {
        kinds.push(format!("folded {}", manifest.host.folded.join(", ")));
    }
    say!(
        "{label}: {} on '{}' at {}: {} instructions per frame, first frame {first} cycles, then {steady} cycles = {:.2} us per frame; wrote {}",
        kinds.join(", "),
        cfg.name,
        match (&args.layers, &args.pruned) {
            (Some(p), _) => format!("the sparsities of {}", p.display()),
            (_, Some(p)) => format!("the pruned matrices of {}", p.display()),
            _ => format!("{:.0}% sparsity", 100.0 * args.sparsity),
        },
        manifest.instructions,
        manifest.steady_frame_us,
        args.output.display()
    )?;
    Ok(())
}

/// The network with the CSB files a `bbs prune --out-dir` wrote for its
/// tensors as its matrices, each checked against the configuration and the
/// model's shape.
fn network_from_pruned(
    cfg: &Config,
    float: &[FloatLayer],
    tensors: &[LayerTensors],
    dir: &Path,
) -> Result<Network> {
    let pruned = crate::sim_cmd::load_model(dir)?;
    network_from_parts(cfg, float, |k, role, w| -> Result<Csb> {
        let t = &tensors[k];
        if let StoredRows::Identity { size } = t.stored {
            let p = bbs_compress::prune_bbs(&w.view(), cfg.banks, one_slot_per_bank(cfg, size))?;
            return Ok(Csb::from_pruned(&p, cfg.format()).0);
        }
        let name = match role {
            "w_ih" => &t.w_ih,
            "w_hh" => &t.w_hh,
            _ => t.w_hr.as_ref().expect("a projection has its tensor"),
        };
        let Some(p) = pruned.iter().find(|p| &p.name == name) else {
            bail!(
                "{}: has no pruned {name}",
                dir.join("manifest.json").display()
            );
        };
        let file = dir.join(&p.csb_file);
        if let StoredRows::Other(why) = &t.stored {
            bail!("--pruned: {name} {why}; compile this model with --sparsity or --layers");
        }
        let c = &p.csb;
        if c.banks != cfg.banks || c.format != cfg.format() {
            bail!(
                "{}: {} banks, {} value bits with {} fraction bits; the configuration '{}' has {} banks, {} and {}",
                file.display(),
                c.banks,
                c.format.width,
                c.format.frac,
                cfg.name,
                cfg.banks,
                cfg.value_width,
                cfg.frac_bits
            );
        }
        if (c.rows, c.cols) != w.dim() {
            bail!(
                "{}: {}x{}, the model's {name} is {}x{}",
                file.display(),
                c.rows,
                c.cols,
                w.nrows(),
                w.ncols()
            );
        }
        Ok(match t.stored.machine_order(c.rows) {
            Some(order) => c.select_rows(&order),
            None => c.clone(),
        })
    })
}

/// Each layer's matrices' sparsities, by role: `--sparsity`, or the
/// `--layers` rule matching the tensor's name.
fn matrix_sparsities(
    args: &CompileArgs,
    cfg: &Config,
    tensors: &[LayerTensors],
) -> Result<Vec<BTreeMap<String, f64>>> {
    use crate::layers::{LayerRules, LayerSettings};
    let defaults = LayerSettings {
        sparsity: args.sparsity,
        banks: cfg.banks,
        skip: false,
    };
    let rules = match &args.layers {
        Some(p) => LayerRules::from_file(p, defaults)?,
        None => LayerRules::new(defaults),
    };
    let shown = args
        .layers
        .as_deref()
        .map_or("--sparsity".to_string(), |p| p.display().to_string());
    tensors
        .iter()
        .map(|t| {
            let mut m = BTreeMap::new();
            if let StoredRows::Identity { size } = t.stored {
                m.insert("w_ih".to_string(), one_slot_per_bank(cfg, size));
            }
            for (role, name) in [("w_ih", Some(&t.w_ih)), ("w_hh", Some(&t.w_hh)), ("w_hr", t.w_hr.as_ref())] {
                let Some(name) = name.filter(|n| !n.is_empty()) else { continue };
                let s = rules.for_tensor(name);
                if s.banks != cfg.banks {
                    bail!(
                        "{shown}: {name}: banks = {}, but the machine's banks are the configuration's ({})",
                        s.banks,
                        cfg.banks
                    );
                }
                let sparsity = if s.skip { 0.0 } else { s.sparsity };
                if !(0.0..1.0).contains(&sparsity) {
                    bail!("{shown}: {name}: sparsity {sparsity} is not in [0, 1)");
                }
                m.insert(role.to_string(), sparsity);
            }
            Ok(m)
        })
        .collect()
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The network and configuration of a compiled directory.
/// The `$readmemh` images of a compiled network's program, matrices and
/// vector memory, as `compile` writes them into `hex/` (`bbs hdl --model`
/// names them by its prefix).
pub fn memory_images(cfg: &Config, net: &Network) -> Result<Vec<(String, String)>> {
    Ok(image_files(cfg, &net.compile(cfg)?).files())
}

/// The memory images of a compiled program, with no run: `hex/`.
fn image_files<'a>(
    cfg: &'a Config,
    compiled: &'a bbs_sim::rnn::Compiled,
) -> bbs_hdlgen::program::RunFiles<'a> {
    bbs_hdlgen::program::RunFiles {
        cfg,
        matrices: &compiled.matrices,
        program: &compiled.program,
        inputs: &[],
        runs: 0,
        matrix_load: bbs_hdlgen::program::MatrixLoad::Init,
    }
}

/// The sparsity that keeps one slot per bank of a `cols`-column matrix.
fn one_slot_per_bank(cfg: &Config, cols: usize) -> f64 {
    1.0 - 1.0 / cols.div_ceil(cfg.banks).max(1) as f64
}
