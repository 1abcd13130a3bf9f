//! The Deep Parallel Neural Network (DPNN): the model that turns a log-mel
//! clip into a 256-d representation and tag scores.
//!
//! Architecture (ARCHITECTURE.md §3; Schindler, Lidy & Rauber 2016, "Comparing shallow
//! versus deep neural network architectures for automatic music genre
//! classification"; Schindler & Knees 2019, "Multi-task music representation
//! learning from multi-label embeddings"): a BatchNorm on the raw log-mel
//! replaces feature normalisation; two parallel, unshared stacks of
//! conv → BatchNorm → ELU → max-pool read the same input — the *timbre* stack
//! with kernels tall in frequency, pooling along time (what sounds, whenever
//! it sounds), the *rhythm* stack with kernels wide in time, pooling along
//! frequency (when things happen, whatever they are) — and their flattened
//! outputs are concatenated into a dense layer: the representation. A single
//! dense layer of sigmoid heads (one output per tag, see [`super::heads`])
//! sits on ELU(representation).
//!
//! Every size lives in [`DpnnConfig`], saved with the weights in
//! `model.toml`, so a model directory fully describes its network. The choice
//! of the shipped sizes, the parameter count and the FLOPs are documented in
//! `models/README.md`; [`DpnnConfig::layer_table`] computes them.

use burn::module::{Module, Param, ParamId, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear, PaddingConfig2d};
use burn::tensor::activation::elu;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::heads::TagCounts;

/// One conv → BatchNorm → ELU → max-pool block of a stack.
///
/// Sizes are `[frequency, time]` (the input is `[batch, 1, mels, frames]`).
/// Kernels must be odd so that "same" padding (`kernel / 2` on each side) is
/// symmetric and identical on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvBlockSpec {
    /// Output channels (number of filters).
    pub filters: usize,
    /// Kernel size `[freq_bins, frames]`, both odd.
    pub kernel: [usize; 2],
    /// Convolution stride `[freq, time]`; a frequency stride in the timbre
    /// stack (time stride in the rhythm stack) shrinks the axis the stack does
    /// not pool, which is where the FLOPs would otherwise go.
    pub stride: [usize; 2],
    /// Max-pool window (= stride) `[freq, time]` after the ELU; `[1, 1]` = none.
    pub pool: [usize; 2],
}

/// Shape and cost of one layer, for the model card and the FLOP budget.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    /// Layer name as it appears in the weights (e.g. `timbre.0`).
    pub name: String,
    /// Human description (kernel, stride, pool).
    pub what: String,
    /// Output shape without the batch axis `[channels, freq, time]`, or
    /// `[features, 1, 1]` for dense layers.
    pub out_shape: [usize; 3],
    /// Trainable parameters (weights, biases, BatchNorm γ/β).
    pub params: usize,
    /// Multiply–accumulates per clip in the conv/dense part of this layer.
    pub macs: u64,
}

/// Per conv block: the conv output `[freq, time]` before pooling and the
/// block output `[channels, freq, time]`.
type BlockGeometry = ([usize; 2], [usize; 3]);

/// Every size of the network. Serialised into `model.toml` (`[config]`), so
/// a model directory says exactly which network its weights belong to.
///
/// Why no `#[serde(default)]`: a `model.toml` missing a field must fail to
/// load with a clear message rather than silently get today's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpnnConfig {
    /// Mel bands of the input (height), must equal the feature extractor's.
    pub n_mels: usize,
    /// Frames of the input (width), must equal the feature extractor's.
    pub n_frames: usize,
    /// Timbre stack: kernels tall in frequency, pooling along time.
    pub timbre: Vec<ConvBlockSpec>,
    /// Rhythm stack: kernels wide in time, pooling along frequency.
    pub rhythm: Vec<ConvBlockSpec>,
    /// Width of the representation (the embedding), 256 in ARCHITECTURE.md §3.
    pub embedding_dim: usize,
    /// Head outputs per tag category; must match the vocabulary.
    pub tags: TagCounts,
    /// ELU α (1.0: the standard ELU).
    pub elu_alpha: f64,
    /// BatchNorm ε added to the running variance.
    pub bn_epsilon: f64,
    /// Dropout probability on the concatenated stacks during training
    /// (identity at inference).
    pub dropout: f64,
}

impl Default for DpnnConfig {
    /// The shipped architecture (see `models/README.md` for the reasoning):
    /// ≈0.96 M parameters, ≈109 MFLOP per 6 s clip.
    fn default() -> Self {
        let b = |filters, kernel, stride, pool| ConvBlockSpec { filters, kernel, stride, pool };
        DpnnConfig {
            n_mels: crate::features::N_MELS,
            n_frames: crate::features::N_FRAMES,
            timbre: vec![
                b(16, [11, 3], [1, 1], [1, 4]),
                b(32, [7, 3], [2, 1], [1, 4]),
                b(64, [5, 3], [2, 1], [1, 8]),
            ],
            rhythm: vec![
                b(16, [3, 11], [1, 1], [4, 1]),
                b(32, [3, 7], [1, 2], [4, 1]),
                b(64, [3, 5], [1, 1], [5, 2]),
            ],
            embedding_dim: 256,
            tags: TagCounts { genre: 35, style: 19, mood: 13, theme: 7 },
            elu_alpha: 1.0,
            bn_epsilon: 1e-5,
            dropout: 0.25,
        }
    }
}

impl DpnnConfig {
    /// Output shape `[channels, freq, time]` of every block of one stack.
    fn stack_shapes(&self, stack: &[ConvBlockSpec]) -> Result<Vec<[usize; 3]>, String> {
        Ok(self.stack_geometry(stack)?.into_iter().map(|(_, out)| out).collect())
    }

    /// Per block: the conv output size `[freq, time]` (before pooling) and
    /// the block's output shape `[channels, freq, time]`.
    fn stack_geometry(&self, stack: &[ConvBlockSpec]) -> Result<Vec<BlockGeometry>, String> {
        let mut shape = [1, self.n_mels, self.n_frames];
        let mut out = Vec::with_capacity(stack.len());
        for (i, b) in stack.iter().enumerate() {
            let mut hw = [0usize; 2];
            let mut conv_hw = [0usize; 2];
            for axis in 0..2 {
                let (k, s, p) = (b.kernel[axis], b.stride[axis], b.pool[axis]);
                if k == 0 || k % 2 == 0 {
                    return Err(format!("block {i}: kernel {:?} must be odd", b.kernel));
                }
                if s == 0 || p == 0 {
                    return Err(format!("block {i}: stride and pool must be at least 1"));
                }
                let conv = (shape[axis + 1] + 2 * (k / 2) - k) / s + 1;
                conv_hw[axis] = conv;
                hw[axis] = conv / p;
                if hw[axis] == 0 {
                    return Err(format!("block {i}: pooling {:?} leaves an empty axis", b.pool));
                }
            }
            if b.filters == 0 {
                return Err(format!("block {i}: zero filters"));
            }
            shape = [b.filters, hw[0], hw[1]];
            out.push((conv_hw, shape));
        }
        Ok(out)
    }

    /// Checks that the network is well formed (odd kernels, non-empty axes,
    /// non-zero sizes) and returns a message saying what is wrong otherwise.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_mels == 0 || self.n_frames == 0 {
            return Err("n_mels and n_frames must be positive".into());
        }
        if self.timbre.is_empty() || self.rhythm.is_empty() {
            return Err("both the timbre and the rhythm stack need at least one block".into());
        }
        self.stack_shapes(&self.timbre).map_err(|e| format!("timbre {e}"))?;
        self.stack_shapes(&self.rhythm).map_err(|e| format!("rhythm {e}"))?;
        if self.embedding_dim == 0 || self.tags.total() == 0 {
            return Err("embedding_dim and the number of tags must be positive".into());
        }
        if !(self.elu_alpha.is_finite() && self.elu_alpha > 0.0) {
            return Err(format!("elu_alpha {} must be finite and positive", self.elu_alpha));
        }
        if !(self.bn_epsilon.is_finite() && self.bn_epsilon > 0.0) {
            return Err(format!("bn_epsilon {} must be finite and positive", self.bn_epsilon));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// Width of the concatenated, flattened stacks: the dense layer's input.
    pub fn concat_dim(&self) -> Result<usize, String> {
        let last = |stack| -> Result<usize, String> {
            let shapes = self.stack_shapes(stack)?;
            Ok(shapes.last().map_or(0, |s| s[0] * s[1] * s[2]))
        };
        Ok(last(&self.timbre)? + last(&self.rhythm)?)
    }

    /// Per-layer output shape, parameter count and multiply–accumulates per
    /// clip: the table in `models/README.md`, and the check that the model
    /// stays cheap enough for ≥ 100 clips/s on two CPU cores.
    pub fn layer_table(&self) -> Result<Vec<LayerInfo>, String> {
        self.validate()?;
        let mut rows = vec![LayerInfo {
            name: "input_bn".into(),
            what: "BatchNorm on the log-mel (dB)".into(),
            out_shape: [1, self.n_mels, self.n_frames],
            params: 2,
            macs: 0,
        }];
        for (stack_name, stack) in [("timbre", &self.timbre), ("rhythm", &self.rhythm)] {
            let geometry = self.stack_geometry(stack)?;
            let mut c_in = 1;
            for (i, (b, (conv_hw, shape))) in stack.iter().zip(&geometry).enumerate() {
                let taps = c_in * b.kernel[0] * b.kernel[1];
                rows.push(LayerInfo {
                    name: format!("{stack_name}.{i}"),
                    what: format!(
                        "conv {}×{} /{}×{} → BN → ELU → max-pool {}×{}",
                        b.kernel[0], b.kernel[1], b.stride[0], b.stride[1], b.pool[0], b.pool[1]
                    ),
                    out_shape: *shape,
                    params: taps * b.filters + 2 * b.filters,
                    macs: (taps * b.filters * conv_hw[0] * conv_hw[1]) as u64,
                });
                c_in = b.filters;
            }
        }
        let concat = self.concat_dim()?;
        rows.push(LayerInfo {
            name: "embedding".into(),
            what: format!("dropout {} → dense {concat} → {}", self.dropout, self.embedding_dim),
            out_shape: [self.embedding_dim, 1, 1],
            params: concat * self.embedding_dim + self.embedding_dim,
            macs: (concat * self.embedding_dim) as u64,
        });
        let n_tags = self.tags.total();
        rows.push(LayerInfo {
            name: "heads".into(),
            what: format!("ELU → dense {} → {n_tags} → sigmoid", self.embedding_dim),
            out_shape: [n_tags, 1, 1],
            params: self.embedding_dim * n_tags + n_tags,
            macs: (self.embedding_dim * n_tags) as u64,
        });
        Ok(rows)
    }

    /// Trainable parameters of the whole network.
    pub fn param_count(&self) -> Result<usize, String> {
        Ok(self.layer_table()?.iter().map(|l| l.params).sum())
    }

    /// FLOPs per clip of the convolutions and dense layers (2 per
    /// multiply–accumulate; BatchNorm, ELU and pooling add < 2 % and are not
    /// counted).
    pub fn flops_per_clip(&self) -> Result<u64, String> {
        Ok(2 * self.layer_table()?.iter().map(|l| l.macs).sum::<u64>())
    }
}

/// What an initialiser is asked for when a [`Dpnn`] is built: the parameter's
/// path in the weights file, its shape, and its fan-in (inputs per output,
/// for scaled initialisations).
#[derive(Debug, Clone, Copy)]
pub struct ParamRequest<'a> {
    /// Dotted path, e.g. `timbre.1.conv.weight` — the same key the weights
    /// file uses.
    pub path: &'a str,
    /// Tensor shape.
    pub shape: &'a [usize],
    /// Inputs feeding each output unit (conv: `c_in·kh·kw`; dense: `d_in`),
    /// or 0 for BatchNorm parameters.
    pub fan_in: usize,
}

/// Values and identity of one parameter, as returned by an initialiser.
#[derive(Debug, Clone)]
pub struct ParamValue {
    /// Persistent parameter id (kept in the weights file; deterministic ids
    /// make the file byte-reproducible).
    pub id: u64,
    /// Row-major values, `shape.iter().product()` of them.
    pub values: Vec<f32>,
}

/// conv → BatchNorm → ELU → max-pool, computed as conv → BatchNorm →
/// max-pool → ELU: ELU is monotonic, so it commutes exactly with max-pooling,
/// and running it on the pooled map does 2–8× fewer exponentials.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution (no bias while the BatchNorm is separate; after
    /// [`Dpnn::fold_batch_norms`] the bias carries the BatchNorm's shift).
    pub conv: Conv2d,
    /// BatchNorm over the conv's channels; `None` once folded into the conv.
    pub bn: Option<BatchNorm>,
    /// Non-overlapping max-pool window `[freq, time]` (stride = window,
    /// remainder dropped).
    pub pool: [usize; 2],
}

/// Non-overlapping max-pooling (window = stride, floor mode) as reshape +
/// `max_dim`.
///
/// Why not `burn::nn::pool::MaxPool2d`: on burn-flex its kernel is a scalar
/// loop that also computes i64 argmax indices; it took ~20 % of the forward
/// pass. A reshape and a reduction along a size-2..8 axis is the same
/// arithmetic (max is exact, so every backend agrees bit for bit) at a
/// fraction of the cost, and autodiff handles it like any reduction.
pub fn max_pool(x: Tensor<4>, window: [usize; 2]) -> Tensor<4> {
    let [ph, pw] = window;
    let [b, c, h, w] = x.dims();
    let (ho, wo) = (h / ph.max(1), w / pw.max(1));
    let mut x = if ho * ph != h || wo * pw != w { x.slice([0..b, 0..c, 0..ho * ph, 0..wo * pw]) } else { x };
    if pw > 1 {
        x = x.reshape([b, c, ho * ph, wo, pw]).max_dim(4).reshape([b, c, ho * ph, wo]);
    }
    if ph > 1 {
        x = x.reshape([b, c, ho, ph, wo]).max_dim(3).reshape([b, c, ho, wo]);
    }
    x
}

/// The DPNN (see the module documentation). Built with [`Dpnn::build`] from a
/// [`DpnnConfig`]; loaded and saved by [`super::record`].
#[derive(Module, Debug)]
pub struct Dpnn {
    /// BatchNorm on the input log-mel: learns the dB offset and scale.
    pub input_bn: BatchNorm,
    /// Timbre stack.
    pub timbre: Vec<ConvBlock>,
    /// Rhythm stack.
    pub rhythm: Vec<ConvBlock>,
    /// Dropout on the concatenated stacks (training only).
    pub dropout: Dropout,
    /// Dense layer producing the representation.
    pub embedding: Linear,
    /// One sigmoid output per tag (logits here; sigmoid in inference).
    pub heads: Linear,
    /// ELU α.
    pub elu_alpha: f64,
}

/// Builds one tensor parameter from the initialiser's answer.
fn tensor_of<const D: usize>(
    init: &mut dyn FnMut(ParamRequest<'_>) -> ParamValue,
    path: &str,
    shape: [usize; D],
    fan_in: usize,
    device: &Device,
) -> (ParamId, Tensor<D>) {
    let v = init(ParamRequest { path, shape: &shape, fan_in });
    debug_assert_eq!(v.values.len(), shape.iter().product::<usize>(), "{path}");
    (ParamId::from(v.id), Tensor::from_data(TensorData::new(v.values, shape), device))
}

fn param<const D: usize>(
    init: &mut dyn FnMut(ParamRequest<'_>) -> ParamValue,
    path: &str,
    shape: [usize; D],
    fan_in: usize,
    device: &Device,
) -> Param<Tensor<D>> {
    let (id, t) = tensor_of(init, path, shape, fan_in, device);
    // `from_tensor` marks the parameter trainable (so `Module::train` makes
    // it require gradients); the id is then set to the deterministic one.
    let mut p = Param::from_tensor(t);
    p.id = id;
    p
}

fn batch_norm(
    init: &mut dyn FnMut(ParamRequest<'_>) -> ParamValue,
    prefix: &str,
    n: usize,
    epsilon: f64,
    device: &Device,
) -> BatchNorm {
    let (mean_id, mean) = tensor_of(init, &format!("{prefix}.running_mean"), [n], 0, device);
    let (var_id, var) = tensor_of(init, &format!("{prefix}.running_var"), [n], 0, device);
    BatchNorm {
        gamma: param(init, &format!("{prefix}.gamma"), [n], 0, device),
        beta: param(init, &format!("{prefix}.beta"), [n], 0, device),
        training: Param::from_bool(true),
        running_mean: RunningState::with_id(mean_id, mean),
        running_var: RunningState::with_id(var_id, var),
        momentum: 0.1,
        epsilon,
    }
}

fn linear(
    init: &mut dyn FnMut(ParamRequest<'_>) -> ParamValue,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    device: &Device,
) -> Linear {
    Linear {
        // burn's Linear stores the weight as [d_input, d_output].
        weight: param(init, &format!("{prefix}.weight"), [d_in, d_out], d_in, device),
        bias: Some(param(init, &format!("{prefix}.bias"), [d_out], d_in, device)),
    }
}

impl Dpnn {
    /// Builds the network for `config` on `device`, asking `init` for every
    /// parameter's values (in a fixed order, with its path and fan-in).
    ///
    /// Why an initialiser callback instead of burn's random initialisers: the
    /// shipped initial model must be byte-reproducible on every machine and
    /// backend ([`super::init`] computes values on the host from a seed), and
    /// loading a weights file only needs a cheap skeleton ([`Dpnn::skeleton`]).
    ///
    /// Errors when the configuration is invalid ([`DpnnConfig::validate`]).
    pub fn build(
        config: &DpnnConfig,
        device: &Device,
        init: &mut dyn FnMut(ParamRequest<'_>) -> ParamValue,
    ) -> Result<Self, String> {
        config.validate()?;
        let eps = config.bn_epsilon;
        let input_bn = batch_norm(init, "input_bn", 1, eps, device);
        let mut stack = |name: &str, specs: &[ConvBlockSpec]| {
            let mut c_in = 1;
            let mut blocks = Vec::with_capacity(specs.len());
            for (i, b) in specs.iter().enumerate() {
                let prefix = format!("{name}.{i}");
                let fan_in = c_in * b.kernel[0] * b.kernel[1];
                let weight = param(
                    init,
                    &format!("{prefix}.conv.weight"),
                    [b.filters, c_in, b.kernel[0], b.kernel[1]],
                    fan_in,
                    device,
                );
                let (ph, pw) = (b.kernel[0] / 2, b.kernel[1] / 2);
                let conv = Conv2d {
                    weight,
                    bias: None,
                    stride: b.stride,
                    kernel_size: b.kernel,
                    dilation: [1, 1],
                    groups: 1,
                    padding: PaddingConfig2d::Explicit(ph, pw, ph, pw),
                };
                let bn = Some(batch_norm(init, &format!("{prefix}.bn"), b.filters, eps, device));
                blocks.push(ConvBlock { conv, bn, pool: b.pool });
                c_in = b.filters;
            }
            blocks
        };
        let timbre = stack("timbre", &config.timbre);
        let rhythm = stack("rhythm", &config.rhythm);
        let concat = config.concat_dim()?;
        let embedding = linear(init, "embedding", concat, config.embedding_dim, device);
        let heads = linear(init, "heads", config.embedding_dim, config.tags.total(), device);
        Ok(Dpnn {
            input_bn,
            timbre,
            rhythm,
            dropout: DropoutConfig::new(config.dropout).init(),
            embedding,
            heads,
            elu_alpha: config.elu_alpha,
        })
    }

    /// A network of the right shapes with placeholder values (zeros; ones for
    /// BatchNorm γ and running variance), to load a weights file into.
    pub fn skeleton(config: &DpnnConfig, device: &Device) -> Result<Self, String> {
        let mut id = 0u64;
        Dpnn::build(config, device, &mut |req| {
            id += 1;
            let one = req.path.ends_with(".gamma") || req.path.ends_with(".running_var");
            ParamValue { id, values: vec![if one { 1.0 } else { 0.0 }; req.shape.iter().product()] }
        })
    }

    fn run_stack(&self, blocks: &[ConvBlock], x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for b in blocks {
            let mut y = b.conv.forward(x);
            if let Some(bn) = &b.bn {
                y = bn.forward(y);
            }
            x = elu(max_pool(y, b.pool), self.elu_alpha);
        }
        x.flatten(1, 3)
    }

    /// The inference form of this network: every conv block's BatchNorm
    /// (running statistics) folded into its convolution — weights scaled by
    /// γ/√(σ²+ε) per output channel, bias β − μ·γ/√(σ²+ε). Same outputs, one
    /// pass over each activation map fewer; [`super::infer::Embedder`] runs
    /// this form.
    ///
    /// Inference only: the result has no BatchNorm to train and its weights
    /// no longer match the weights-file layout, so never save it. The input
    /// BatchNorm stays (folding it into the first convs would change how
    /// their zero padding behaves at the clip edges).
    pub fn fold_batch_norms(self) -> Dpnn {
        let fold = |blocks: Vec<ConvBlock>| -> Vec<ConvBlock> {
            blocks
                .into_iter()
                .map(|b| {
                    let Some(bn) = b.bn else { return b };
                    let scale = bn.gamma.val() / bn.running_var.value().add_scalar(bn.epsilon).sqrt();
                    let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
                    let [c_out, _, _, _] = b.conv.weight.dims();
                    let weight = b.conv.weight.val() * scale.clone().reshape([c_out, 1, 1, 1]);
                    let bias = match &b.conv.bias {
                        Some(old) => old.val() * scale + shift,
                        None => shift,
                    };
                    let conv = Conv2d {
                        weight: Param::initialized(b.conv.weight.id, weight),
                        bias: Some(Param::initialized(ParamId::new(), bias)),
                        ..b.conv
                    };
                    ConvBlock { conv, bn: None, pool: b.pool }
                })
                .collect()
        };
        Dpnn { timbre: fold(self.timbre), rhythm: fold(self.rhythm), ..self }
    }

    /// The representation: `[batch, 1, n_mels, n_frames]` log-mel in dB →
    /// `[batch, embedding_dim]`, raw (not normalised; [`super::infer`]
    /// L2-normalises it for cosine similarity, training may want it raw).
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.input_bn.forward(x);
        let timbre = self.run_stack(&self.timbre, x.clone());
        let rhythm = self.run_stack(&self.rhythm, x);
        let joint = self.dropout.forward(Tensor::cat(vec![timbre, rhythm], 1));
        self.embedding.forward(joint)
    }

    /// Representation and tag logits (`[batch, n_tags]`, vocabulary order;
    /// apply a sigmoid for scores, or use them directly in a BCE-with-logits
    /// loss).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let embedding = self.embed(x);
        let logits = self.heads.forward(elu(embedding.clone(), self.elu_alpha));
        (embedding, logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_cheap_and_small() {
        let c = DpnnConfig::default();
        c.validate().unwrap();
        let table = c.layer_table().unwrap();
        let timbre_out = table.iter().find(|l| l.name == "timbre.2").unwrap().out_shape;
        let rhythm_out = table.iter().find(|l| l.name == "rhythm.2").unwrap().out_shape;
        assert_eq!(timbre_out, [64, 20, 1], "timbre ends with time pooled away");
        assert_eq!(rhythm_out, [64, 1, 32], "rhythm ends with frequency pooled away");
        assert_eq!(c.concat_dim().unwrap(), 64 * 20 + 64 * 32);
        let params = c.param_count().unwrap();
        assert!(params < 2_000_000, "{params}");
        let flops = c.flops_per_clip().unwrap();
        assert!(flops < 150_000_000, "{flops}");
    }

    #[test]
    fn folding_batch_norms_keeps_the_outputs() {
        let c = DpnnConfig::default();
        let device = crate::model::backend::ComputeDevice::cpu().device;
        // Non-trivial BatchNorm statistics and weights, deterministic.
        let mut k = 0u32;
        let model = Dpnn::build(&c, &device, &mut |req| {
            let n: usize = req.shape.iter().product();
            let values = (0..n)
                .map(|_| {
                    k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let u = (k >> 8) as f32 / 16_777_216.0;
                    if req.path.ends_with("running_var") {
                        0.5 + u
                    } else if req.path == "input_bn.running_mean" {
                        -30.0
                    } else if req.path == "input_bn.running_var" {
                        400.0
                    } else {
                        u - 0.5
                    }
                })
                .collect();
            ParamValue { id: u64::from(k), values }
        })
        .unwrap();
        let x = Tensor::<4>::from_data(
            TensorData::new(
                (0..2 * c.n_mels * c.n_frames).map(|i| -60.0 + (i % 97) as f32 * 0.7).collect::<Vec<f32>>(),
                [2, 1, c.n_mels, c.n_frames],
            ),
            &device,
        );
        let (e1, l1) = model.clone().forward(x.clone());
        let (e2, l2) = model.fold_batch_norms().forward(x);
        let max_rel = |a: Tensor<2>, b: Tensor<2>| {
            let a: Vec<f32> = a.into_data().iter::<f32>().collect();
            let b: Vec<f32> = b.into_data().iter::<f32>().collect();
            let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
            a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
        };
        assert!(max_rel(e1, e2) < 1e-5);
        assert!(max_rel(l1, l2) < 1e-5);
    }

    #[test]
    fn max_pool_matches_burns_max_pool2d() {
        let device = crate::model::backend::ComputeDevice::cpu().device;
        let data: Vec<f32> = (0..2 * 3 * 11 * 13).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [2, 3, 11, 13]), &device);
        for window in [[1, 4], [4, 1], [5, 2], [1, 1], [11, 13]] {
            let ours = max_pool(x.clone(), window).into_data();
            let reference =
                burn::nn::pool::MaxPool2dConfig::new(window).init().forward(x.clone()).into_data();
            assert_eq!(ours, reference, "window {window:?}");
        }
    }

    #[test]
    fn invalid_configs_are_refused_with_a_reason() {
        let mut c = DpnnConfig::default();
        c.timbre[0].kernel = [10, 3];
        assert!(c.validate().unwrap_err().contains("odd"));
        let mut c = DpnnConfig::default();
        c.rhythm[2].pool = [50, 1];
        assert!(c.validate().unwrap_err().contains("empty axis"));
        let c = DpnnConfig { embedding_dim: 0, ..DpnnConfig::default() };
        assert!(c.validate().is_err());
    }

    #[test]
    fn skeleton_has_the_configured_parameter_count() {
        let c = DpnnConfig::default();
        let device = crate::model::backend::ComputeDevice::cpu().device;
        let m = Dpnn::skeleton(&c, &device).unwrap();
        // burn also counts the BatchNorm running statistics (2 per channel).
        let bn_channels: usize = 1 + c.timbre.iter().chain(&c.rhythm).map(|b| b.filters).sum::<usize>();
        assert_eq!(m.num_params(), c.param_count().unwrap() + 2 * bn_channels);
        let x = Tensor::<4>::zeros([2, 1, c.n_mels, c.n_frames], &device);
        let (e, l) = m.forward(x);
        assert_eq!(e.dims(), [2, 256]);
        assert_eq!(l.dims(), [2, c.tags.total()]);
    }
}
