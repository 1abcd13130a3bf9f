//! Weight averaging: one model whose every tensor is the mean of the same
//! tensor in several snapshots of one training run.
//!
//! Why: near the end of a run the weights wander around a minimum from
//! checkpoint to checkpoint, and validation figures move by a few hundredths
//! between neighbouring validations. The mean of the late checkpoints lies
//! nearer the middle of that basin than any one of them (stochastic weight
//! averaging, Izmailov et al. 2018), which tends to give steadier neighbours
//! at no inference cost. BatchNorm running statistics are averaged like the
//! weights: they are visited as tensors by burn, and late in a run they
//! change as slowly as the weights do.
//!
//! Only snapshots of one network average meaningfully: the inputs must share
//! the config and the vocabulary (checked), and should come from one run
//! (not checked: two runs from different seeds have permuted filters, and
//! their mean is noise — the model card says which checkpoints were used).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use super::backend::ComputeDevice;
use super::dpnn::Dpnn;
use super::record::ModelBundle;
use crate::{Error, Result};

/// Collects every float tensor (parameters and running statistics) in visit
/// order, as f32 values.
struct Gather {
    tensors: Vec<Vec<f32>>,
}

impl ModuleVisitor for Gather {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.tensors.push(param.val().into_data().iter::<f32>().collect());
    }
}

/// Replaces every float tensor, in visit order, by the next of `tensors`
/// (same shape: the inputs share the config).
struct Scatter {
    tensors: std::vec::IntoIter<Vec<f32>>,
}

impl ModuleMapper for Scatter {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(values) = self.tensors.next() else { return param };
        param.map(|t| {
            let shape = t.shape();
            let device = t.device();
            let grad = t.is_require_grad();
            Tensor::<D>::from_data(TensorData::new(values, shape), &device).set_require_grad(grad)
        })
    }
}

fn float_tensors(model: &Dpnn) -> Vec<Vec<f32>> {
    let mut g = Gather { tensors: Vec::new() };
    model.visit(&mut g);
    g.tensors
}

/// The element-wise mean of `bundles` (at least one), built on `device`.
///
/// # Errors
/// No input; an input whose config or vocabulary differs from the first's
/// (named by its weights file); an input that fails to load.
pub fn average(bundles: &[ModelBundle], device: &ComputeDevice) -> Result<Dpnn> {
    let Some(first) = bundles.first() else {
        return Err(Error::Invalid("weight averaging needs at least one model".into()));
    };
    for b in &bundles[1..] {
        if b.card.config != first.card.config || b.card.vocabulary != first.card.vocabulary {
            return Err(Error::model(
                format!(
                    "its network or tag vocabulary differs from {}'s: only snapshots of one network can be averaged",
                    first.weights_path.display()
                ),
                &b.weights_path,
            ));
        }
    }
    let base = first.instantiate(device)?;
    let mut sums: Vec<Vec<f64>> =
        float_tensors(&base).into_iter().map(|t| t.into_iter().map(f64::from).collect()).collect();
    for b in &bundles[1..] {
        let tensors = float_tensors(&b.instantiate(device)?);
        if tensors.len() != sums.len() || tensors.iter().zip(&sums).any(|(t, s)| t.len() != s.len()) {
            return Err(Error::model("its tensors do not match the first model's", &b.weights_path));
        }
        for (s, t) in sums.iter_mut().zip(tensors) {
            for (a, v) in s.iter_mut().zip(t) {
                *a += f64::from(v);
            }
        }
    }
    let n = bundles.len() as f64;
    let means: Vec<Vec<f32>> =
        sums.into_iter().map(|s| s.into_iter().map(|v| (v / n) as f32).collect()).collect();
    Ok(base.map(&mut Scatter { tensors: means.into_iter() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backend::{DeviceChoice, select_device};
    use crate::model::init::{init_card, init_model};
    use crate::model::record::{ModelBundle, save_dir};

    fn write(dir: &std::path::Path, seed: u64) -> ModelBundle {
        let device = select_device(DeviceChoice::Cpu).unwrap();
        let built_in = ModelBundle::embedded().unwrap().card;
        let model = init_model(&built_in.config, &built_in.vocabulary, seed, &device).unwrap();
        save_dir(dir, &init_card(&built_in.config, &built_in.vocabulary, seed), &model).unwrap();
        ModelBundle::read_dir(dir).unwrap()
    }

    #[test]
    fn the_mean_of_two_snapshots_is_their_elementwise_mean() {
        let tmp = tempfile::tempdir().unwrap();
        let a = write(&tmp.path().join("a"), 1);
        let b = write(&tmp.path().join("b"), 2);
        let device = select_device(DeviceChoice::Cpu).unwrap();
        let (ta, tb) = (
            float_tensors(&a.instantiate(&device).unwrap()),
            float_tensors(&b.instantiate(&device).unwrap()),
        );
        let mean = float_tensors(&average(&[a.clone(), b], &device).unwrap());
        assert_eq!(mean.len(), ta.len());
        let mut checked = 0;
        for ((m, x), y) in mean.iter().zip(&ta).zip(&tb) {
            for ((m, x), y) in m.iter().zip(x).zip(y) {
                assert!((m - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + x.abs() + y.abs()));
                checked += 1;
            }
        }
        assert!(checked > 900_000, "every weight is averaged ({checked})");
        // One model averages to itself.
        let same = float_tensors(&average(&[a], &device).unwrap());
        assert_eq!(same, ta);
    }

    #[test]
    fn models_of_different_networks_are_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let a = write(&tmp.path().join("a"), 1);
        let mut b = write(&tmp.path().join("b"), 2);
        b.card.config.embedding_dim = 128;
        let device = select_device(DeviceChoice::Cpu).unwrap();
        let err = average(&[a, b], &device).unwrap_err().to_string();
        assert!(err.contains("differs") && err.contains("weights.bpk"), "{err}");
    }
}
