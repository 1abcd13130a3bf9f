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
//!
//! (g) can also rank each clip against the clips of the last few batches
//! ([`NeighbourQueue`], MoCo's queue, He et al. 2020): a batch of 32 random
//! tracks out of ~600 rarely holds a second track of a clip's album, so the
//! in-batch ranking mostly orders unrelated clips; eight past batches add
//! ~500 candidates, among them the album-mates that same-album P@5 counts.
//! The queued student vectors are those the model gave a few steps ago
//! (no gradient flows into them); the teachers' side is exact.

use std::collections::VecDeque;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

/// The teachers' cosines of a batch's clips (rows) to candidate clips
/// (columns: the batch itself, then any queued clips) and which pairs count.
pub struct TeacherCosines {
    /// Batch size: rows of the matrices.
    pub n: usize,
    /// Candidates: columns of the matrices (`n` plus queued clips; row-major
    /// `n × cols`).
    pub cols: usize,
    /// Teacher cosine of each pair (0 where the mask is 0).
    pub cosine: Vec<f32>,
    /// 1 for a pair that counts: two different clips, neither mixed.
    pub mask: Vec<f32>,
}

impl TeacherCosines {
    /// The square cosines of `clips` (indices into `teacher_unit`, rows of
    /// width `dim`, unit length); clips marked in `skip` (mixed ones: their
    /// input is not the clip the teachers heard) take part in no pair.
    pub fn of_batch(teacher_unit: &[f32], dim: usize, clips: &[usize], skip: &[bool]) -> TeacherCosines {
        TeacherCosines::with_queue(teacher_unit, dim, clips, skip, &[])
    }

    /// As [`TeacherCosines::of_batch`], with the `queued` clips (never mixed:
    /// [`NeighbourQueue`] keeps none) as further columns; a queued copy of a
    /// row's own clip does not count.
    pub fn with_queue(
        teacher_unit: &[f32],
        dim: usize,
        clips: &[usize],
        skip: &[bool],
        queued: &[usize],
    ) -> TeacherCosines {
        let n = clips.len();
        let cols = n + queued.len();
        let row_of = |c: usize| &teacher_unit[c * dim..(c + 1) * dim];
        let mut cosine = vec![0.0f32; n * cols];
        let mut mask = vec![0.0f32; n * cols];
        for i in 0..n {
            if skip[i] {
                continue;
            }
            let ti = row_of(clips[i]);
            let candidates = clips.iter().enumerate().map(|(j, &c)| (j, c, i == j || skip[j]));
            let from_queue = queued.iter().enumerate().map(|(k, &c)| (n + k, c, c == clips[i]));
            for (j, clip, excluded) in candidates.chain(from_queue) {
                if excluded {
                    continue;
                }
                cosine[i * cols + j] = ti.iter().zip(row_of(clip)).map(|(x, y)| x * y).sum();
                mask[i * cols + j] = 1.0;
            }
        }
        TeacherCosines { n, cols, cosine, mask }
    }

    /// The batch's own square block (the first `n` columns), without the
    /// queued clips: what the relational term regresses. Why not a second
    /// [`TeacherCosines::of_batch`]: that would compute these cosines again.
    pub fn batch_columns(&self) -> TeacherCosines {
        let (n, cols) = (self.n, self.cols);
        let take = |v: &[f32]| v.chunks_exact(cols).flat_map(|row| row[..n].iter().copied()).collect();
        TeacherCosines { n, cols: n, cosine: take(&self.cosine), mask: take(&self.mask) }
    }

    /// Pairs that count.
    fn pairs(&self) -> f32 {
        self.mask.iter().sum()
    }

    /// Per row, the teachers' neighbour distribution: softmax over the
    /// counted pairs of the row's standardised cosines divided by
    /// `temperature`; an all-zero row where fewer than two pairs count.
    pub fn neighbour_distribution(&self, temperature: f32) -> Vec<f32> {
        let (n, cols) = (self.n, self.cols);
        let mut out = vec![0.0f32; n * cols];
        for i in 0..n {
            let row = i * cols..(i + 1) * cols;
            let valid: Vec<usize> = (0..cols).filter(|&j| self.mask[i * cols + j] > 0.0).collect();
            if valid.len() < 2 {
                continue;
            }
            let values: Vec<f32> = valid.iter().map(|&j| self.cosine[i * cols + j]).collect();
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
    let unit = unit_rows(embedding);
    unit.clone().matmul(unit.transpose())
}

/// The rows of `embedding` scaled to unit length.
fn unit_rows(embedding: Tensor<2>) -> Tensor<2> {
    let norm = embedding.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    embedding / norm
}

/// The student's side of (g) with a queue: the batch's square cosines
/// (`[n, n]`, also what (d) reads) followed by the cosines to the queued
/// vectors (`[n, n + m]` in all). The queued vectors are constants.
pub fn student_cosines_with_queue(
    embedding: Tensor<2>,
    queue: &NeighbourQueue,
    device: &burn::tensor::Device,
) -> Tensor<2> {
    let unit = unit_rows(embedding);
    let square = unit.clone().matmul(unit.clone().transpose());
    let (m, dim) = (queue.len(), unit.dims()[1]);
    if m == 0 {
        return square;
    }
    let queued = Tensor::<2>::from_data(TensorData::new(queue.vectors(), [m, dim]), device);
    Tensor::cat(vec![square, unit.matmul(queued.transpose())], 1)
}

/// The clips and student vectors of the last few batches, candidates of
/// (g) beside a batch's own clips (see the module docs for why).
///
/// A resumed run starts with an empty queue, so it repeats the
/// uninterrupted run only approximately for the first batches after the
/// resume.
#[derive(Debug, Default)]
pub struct NeighbourQueue {
    /// Most batches kept (0: no queue).
    capacity_batches: usize,
    /// Per kept batch, oldest first: its clips and their unit student
    /// vectors (row-major, one row per clip).
    batches: VecDeque<(Vec<usize>, Vec<f32>)>,
}

impl NeighbourQueue {
    /// A queue of the last `capacity_batches` batches.
    pub fn new(capacity_batches: usize) -> NeighbourQueue {
        NeighbourQueue { capacity_batches, batches: VecDeque::new() }
    }

    /// Queued clips.
    pub fn len(&self) -> usize {
        self.batches.iter().map(|(clips, _)| clips.len()).sum()
    }

    /// Whether no clip is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queued clips, oldest first (the columns after a batch's own).
    pub fn clips(&self) -> Vec<usize> {
        self.batches.iter().flat_map(|(clips, _)| clips.iter().copied()).collect()
    }

    /// The queued unit vectors, in the order of [`NeighbourQueue::clips`].
    fn vectors(&self) -> Vec<f32> {
        self.batches.iter().flat_map(|(_, v)| v.iter().copied()).collect()
    }

    /// Adds a batch (`embedding`: its student vectors, `[n, dim]` row-major),
    /// leaving out the clips marked in `skip` (mixed: not the clip the
    /// teachers heard), and drops the oldest batch beyond the capacity.
    pub fn push(&mut self, clips: &[usize], embedding: &[f32], skip: &[bool]) {
        if self.capacity_batches == 0 || clips.is_empty() {
            return;
        }
        let dim = embedding.len() / clips.len();
        let mut kept = Vec::new();
        let mut vectors = Vec::new();
        for (i, &clip) in clips.iter().enumerate() {
            if skip[i] {
                continue;
            }
            let row = &embedding[i * dim..(i + 1) * dim];
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            kept.push(clip);
            vectors.extend(row.iter().map(|x| x / norm));
        }
        self.batches.push_back((kept, vectors));
        while self.batches.len() > self.capacity_batches {
            self.batches.pop_front();
        }
    }
}

/// (d): mean squared difference between the student's and the teachers'
/// cosines over the counted pairs; `None` when no pair counts.
pub fn relational_term(
    student: Tensor<2>,
    teacher: &TeacherCosines,
    device: &burn::tensor::Device,
) -> Option<Tensor<1>> {
    let pairs = teacher.pairs();
    if pairs <= 0.0 || teacher.cols != teacher.n {
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
/// `student` is `[n, cols]` as `teacher` (the batch's square cosines, or
/// [`student_cosines_with_queue`]).
pub fn neighbourhood_term(
    student: Tensor<2>,
    teacher: &TeacherCosines,
    temperatures: NeighbourTemperatures,
    device: &burn::tensor::Device,
) -> Option<Tensor<1>> {
    let (n, cols) = (teacher.n, teacher.cols);
    let target = teacher.neighbour_distribution(temperatures.teacher);
    let rows = (0..n).filter(|&i| target[i * cols..(i + 1) * cols].iter().any(|&p| p > 0.0)).count();
    if rows == 0 {
        return None;
    }
    // Pairs that do not count (the diagonal, mixed clips) leave the softmax:
    // a large negative logit, not −∞, so a fully masked row stays finite.
    let excluded: Vec<f32> = teacher.mask.iter().map(|&m| (m - 1.0) * 1e4).collect();
    let excluded = Tensor::<2>::from_data(TensorData::new(excluded, [n, cols]), device);
    let target = Tensor::<2>::from_data(TensorData::new(target, [n, cols]), device);
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
    fn the_batch_columns_of_a_queued_matrix_are_the_batch_matrix() {
        let flat: Vec<f32> =
            [unit(&[1.0, 0.0]), unit(&[0.0, 1.0]), unit(&[1.0, 1.0]), unit(&[1.0, -0.5])].concat();
        let skip = [false, true, false];
        let alone = TeacherCosines::of_batch(&flat, 2, &[0, 1, 2], &skip);
        let queued = TeacherCosines::with_queue(&flat, 2, &[0, 1, 2], &skip, &[3, 0]);
        assert_eq!(queued.cols, 5);
        let part = queued.batch_columns();
        assert_eq!((part.n, part.cols), (3, 3));
        assert_eq!(part.cosine, alone.cosine);
        assert_eq!(part.mask, alone.mask);
    }

    #[test]
    fn a_queued_copy_of_a_rows_own_clip_does_not_count() {
        let flat: Vec<f32> = [unit(&[1.0, 0.0]), unit(&[0.0, 1.0]), unit(&[1.0, 1.0])].concat();
        // Batch: clips 0 and 1; queue: clip 0 again (an earlier batch) and clip 2.
        let t = TeacherCosines::with_queue(&flat, 2, &[0, 1], &[false, false], &[0, 2]);
        assert_eq!((t.n, t.cols), (2, 4));
        assert_eq!(&t.mask[0..4], &[0.0, 1.0, 0.0, 1.0], "row 0 skips itself and its queued copy");
        assert_eq!(&t.mask[4..8], &[1.0, 0.0, 1.0, 1.0]);
        assert!((t.cosine[3] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn the_queue_keeps_the_last_batches_without_mixed_clips() {
        let mut q = NeighbourQueue::new(2);
        q.push(&[1, 2], &[3.0, 4.0, 1.0, 0.0], &[false, false]);
        q.push(&[3, 4], &[0.0, 2.0, 5.0, 5.0], &[false, true]);
        assert_eq!(q.clips(), vec![1, 2, 3]);
        assert_eq!(q.vectors(), vec![0.6, 0.8, 1.0, 0.0, 0.0, 1.0], "rows stored at unit length");
        q.push(&[5], &[1.0, 0.0], &[false]);
        assert_eq!(q.clips(), vec![3, 5], "the oldest batch leaves");
        let mut off = NeighbourQueue::new(0);
        off.push(&[1], &[1.0, 0.0], &[false]);
        assert!(off.is_empty());
    }

    #[test]
    fn a_queued_clip_the_teachers_rank_first_pulls_the_student_towards_it() {
        let device = burn::tensor::Device::flex();
        // Teachers: clip 0's nearest clip is the queued clip 4, not a batch-mate.
        let teacher_rows = [
            unit(&[1.0, 0.1, 0.0]),
            unit(&[0.2, 1.0, 0.0]),
            unit(&[0.0, 0.3, 1.0]),
            unit(&[0.1, 0.1, 1.0]),
            unit(&[1.0, 0.0, 0.05]),
        ];
        let t = TeacherCosines::with_queue(&teacher_rows.concat(), 3, &[0, 1, 2, 3], &[false; 4], &[4]);
        let temps = NeighbourTemperatures { teacher: 0.5, student: 0.1 };
        let cost = |batch: &[Vec<f32>], queued: &[f32]| {
            let mut queue = NeighbourQueue::new(1);
            queue.push(&[4], queued, &[false]);
            let e = Tensor::<2>::from_data(TensorData::new(batch.concat(), [4, 3]), &device);
            let wide = student_cosines_with_queue(e, &queue, &device);
            assert_eq!(wide.dims(), [4, 5]);
            neighbourhood_term(wide, &t, temps, &device).map(|l| l.into_scalar::<f32>()).unwrap_or(f32::NAN)
        };
        let batch: Vec<Vec<f32>> = teacher_rows[..4].to_vec();
        let near = cost(&batch, &teacher_rows[4]);
        let far = cost(&batch, &unit(&[0.0, 0.0, 1.0]));
        assert!(near.is_finite() && far.is_finite());
        assert!(near < far, "queued clip where the teachers put it {near} vs away {far}");
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
