//! The terms that transfer the teachers' *geometry* (not their tags) to the
//! student, inside one batch: (d) relational distillation and (g)
//! neighbourhood distillation (ARCHITECTURE.md §4).
//!
//! Both compare the student's clip-to-clip cosines with the teachers' (the
//! 400-d penultimate of both musicnn teachers, L2-normalised). They differ in
//! *which* pairs they care about:
//!
//! - (d) regresses every cosine (mean squared difference). Most pairs of a
//!   batch of 32 random tracks are unrelated, so the term is dominated by the
//!   coarse layout — which clips are far apart — and says little about the
//!   order of a clip's few nearest clips;
//! - (g) asks the student to rank a clip's batch-mates as the teachers do:
//!   the teachers' cosines of a row, standardised and passed through a sharp
//!   softmax, give a distribution that puts nearly all its mass on the
//!   teachers' nearest few clips; the student's row softmax (cosines over a
//!   temperature) is pulled to it by cross-entropy. That is the order a
//!   similar-tracks list and the same-album P@5 read off, and what the
//!   teachers do better than the tag terms teach. The form follows SEED
//!   (Fang et al., 2021, "self-supervised distillation": the student mimics
//!   the teacher's similarity distribution over other instances); the
//!   per-row standardisation makes the teacher side independent of how
//!   crowded the teachers' cosines are (ReLU penultimates: all positive).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

/// The teachers' cosines of a batch and which pairs count.
pub struct TeacherCosines {
    /// Batch size (the matrices are `n × n`, row-major).
    pub n: usize,
    /// Teacher cosine of each pair (0 where the mask is 0).
    pub cosine: Vec<f32>,
    /// 1 for a pair that counts: two different clips, neither mixed.
    pub mask: Vec<f32>,
}

impl TeacherCosines {
    /// The cosines of `clips` (indices into `teacher_unit`, rows of width
    /// `dim`, unit length); clips marked in `skip` (mixed ones: their input is
    /// not the clip the teachers heard) take part in no pair.
    pub fn of_batch(teacher_unit: &[f32], dim: usize, clips: &[usize], skip: &[bool]) -> TeacherCosines {
        let n = clips.len();
        let mut cosine = vec![0.0f32; n * n];
        let mut mask = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                if i == j || skip[i] || skip[j] {
                    continue;
                }
                let ti = &teacher_unit[clips[i] * dim..(clips[i] + 1) * dim];
                let tj = &teacher_unit[clips[j] * dim..(clips[j] + 1) * dim];
                cosine[i * n + j] = ti.iter().zip(tj).map(|(x, y)| x * y).sum();
                mask[i * n + j] = 1.0;
            }
        }
        TeacherCosines { n, cosine, mask }
    }

    /// Pairs that count.
    fn pairs(&self) -> f32 {
        self.mask.iter().sum()
    }

    /// Per row, the teachers' neighbour distribution: softmax over the
    /// counted pairs of the row's standardised cosines divided by
    /// `temperature`; an all-zero row where fewer than two pairs count.
    pub fn neighbour_distribution(&self, temperature: f32) -> Vec<f32> {
        let n = self.n;
        let mut out = vec![0.0f32; n * n];
        for i in 0..n {
            let row = i * n..(i + 1) * n;
            let valid: Vec<usize> = (0..n).filter(|&j| self.mask[i * n + j] > 0.0).collect();
            if valid.len() < 2 {
                continue;
            }
            let values: Vec<f32> = valid.iter().map(|&j| self.cosine[i * n + j]).collect();
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32;
            let std = var.sqrt().max(1e-6);
            let z: Vec<f32> = values.iter().map(|v| (v - mean) / std / temperature).collect();
            let top = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exp: Vec<f32> = z.iter().map(|v| (v - top).exp()).collect();
            let sum: f32 = exp.iter().sum();
            let dst = &mut out[row];
            for (&j, e) in valid.iter().zip(exp) {
                dst[j] = e / sum;
            }
        }
        out
    }
}

/// Cosine matrix of the rows of `embedding` (`[n, d]` → `[n, n]`).
pub fn student_cosines(embedding: Tensor<2>) -> Tensor<2> {
    let norm = embedding.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    let unit = embedding / norm;
    unit.clone().matmul(unit.transpose())
}

/// (d): mean squared difference between the student's and the teachers'
/// cosines over the counted pairs; `None` when no pair counts.
pub fn relational_term(
    student: Tensor<2>,
    teacher: &TeacherCosines,
    device: &burn::tensor::Device,
) -> Option<Tensor<1>> {
    let pairs = teacher.pairs();
    if pairs <= 0.0 {
        return None;
    }
    let n = teacher.n;
    let target = Tensor::<2>::from_data(TensorData::new(teacher.cosine.clone(), [n, n]), device);
    let mask = Tensor::<2>::from_data(TensorData::new(teacher.mask.clone(), [n, n]), device);
    Some(((student - target).square() * mask).sum().div_scalar(pairs))
}

/// Settings of (g), neighbourhood distillation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NeighbourTemperatures {
    /// Temperature on the teachers' standardised cosines: 0.5 puts ~90 % of
    /// a row's mass on its three or four nearest clips in a 64-clip batch.
    pub teacher: f32,
    /// Temperature on the student's cosines (range −1…1).
    pub student: f32,
}

/// (g): mean over rows of the cross-entropy between the teachers' neighbour
/// distribution and the student's row softmax; `None` when no row counts.
pub fn neighbourhood_term(
    student: Tensor<2>,
    teacher: &TeacherCosines,
    temperatures: NeighbourTemperatures,
    device: &burn::tensor::Device,
) -> Option<Tensor<1>> {
    let n = teacher.n;
    let target = teacher.neighbour_distribution(temperatures.teacher);
    let rows = (0..n).filter(|&i| target[i * n..(i + 1) * n].iter().any(|&p| p > 0.0)).count();
    if rows == 0 {
        return None;
    }
    // Pairs that do not count (the diagonal, mixed clips) leave the softmax:
    // a large negative logit, not −∞, so a fully masked row stays finite.
    let excluded: Vec<f32> = teacher.mask.iter().map(|&m| (m - 1.0) * 1e4).collect();
    let excluded = Tensor::<2>::from_data(TensorData::new(excluded, [n, n]), device);
    let target = Tensor::<2>::from_data(TensorData::new(target, [n, n]), device);
    let log_q = log_softmax(student.div_scalar(temperatures.student) + excluded, 1);
    Some((target * log_q).sum().neg().div_scalar(rows as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_teachers_nearest_clip_takes_most_of_the_row() {
        // Clip 0 is nearly clip 1, far from 2 and 3.
        let rows =
            [unit(&[1.0, 0.1, 0.0]), unit(&[1.0, 0.0, 0.1]), unit(&[0.0, 1.0, 0.2]), unit(&[0.1, 0.2, 1.0])];
        let flat: Vec<f32> = rows.concat();
        let t = TeacherCosines::of_batch(&flat, 3, &[0, 1, 2, 3], &[false; 4]);
        let p = t.neighbour_distribution(0.5);
        assert_eq!(p[0], 0.0, "a clip is never its own neighbour");
        assert!(p[1] > 0.8, "row 0: {:?}", &p[0..4]);
        let sum: f32 = p[0..4].iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_mixed_clip_takes_part_in_no_pair() {
        let flat: Vec<f32> = [unit(&[1.0, 0.0]), unit(&[0.0, 1.0]), unit(&[1.0, 1.0])].concat();
        let t = TeacherCosines::of_batch(&flat, 2, &[0, 1, 2], &[false, true, false]);
        let p = t.neighbour_distribution(0.5);
        // Row 1 is all zero; rows 0 and 2 have a single counted pair, too few.
        assert!(p.iter().all(|&v| v == 0.0));
        assert_eq!(t.mask.iter().sum::<f32>(), 2.0);
    }

    #[test]
    fn the_student_pays_less_for_the_teachers_order_than_for_its_reverse() {
        let device = burn::tensor::Device::flex();
        let teacher_rows =
            [unit(&[1.0, 0.2, 0.0]), unit(&[1.0, 0.0, 0.3]), unit(&[0.0, 1.0, 0.2]), unit(&[0.2, 0.1, 1.0])];
        let t = TeacherCosines::of_batch(&teacher_rows.concat(), 3, &[0, 1, 2, 3], &[false; 4]);
        let temps = NeighbourTemperatures { teacher: 0.5, student: 0.1 };
        let cost = |rows: &[Vec<f32>]| {
            let e = Tensor::<2>::from_data(TensorData::new(rows.concat(), [4, 3]), &device);
            neighbourhood_term(student_cosines(e), &t, temps, &device)
                .map(|l| l.into_scalar::<f32>())
                .unwrap_or(f32::NAN)
        };
        let same = cost(&teacher_rows);
        // Clip 0 now sits next to clip 2 instead of clip 1.
        let swapped = [
            unit(&[0.0, 1.0, 0.1]),
            teacher_rows[1].clone(),
            teacher_rows[2].clone(),
            teacher_rows[3].clone(),
        ];
        let other = cost(&swapped);
        assert!(same.is_finite() && other.is_finite());
        assert!(same < other, "teacher's order {same} vs swapped {other}");
    }
}
