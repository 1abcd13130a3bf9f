//! Short-time Fourier transform pieces: the analysis window, centring by
//! reflect padding, and the power spectrum of one real frame.
//!
//! These are the pure DSP steps that turn a clip into frames of `|X(k)|²`,
//! kept apart from the mel step so each can be checked on its own against
//! the numpy/librosa definitions they must reproduce.

use std::f64::consts::PI;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Periodic Hann window of `len_samples` points, `0.5 − 0.5·cos(2πn/len)`.
///
/// Periodic (not symmetric) because that is what librosa uses
/// (`scipy.signal.get_window('hann', n, fftbins=True)`); the symmetric
/// variant would shift every value of the golden features slightly.
/// Computed in f64 and rounded once so the window is as exact as f32 allows.
pub fn hann_window_periodic(len_samples: usize) -> Vec<f32> {
    if len_samples == 0 {
        return Vec::new();
    }
    let n = len_samples as f64;
    (0..len_samples).map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / n).cos()) as f32).collect()
}

/// Index into a signal of `len` samples after numpy-style `reflect` padding:
/// the edge sample is not repeated (`[c b | a b c d | c b]`), and very short
/// signals keep bouncing between the ends like `np.pad(mode='reflect')`.
fn reflect_index(mut i: isize, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let last = len as isize - 1;
    let period = 2 * last;
    i = i.rem_euclid(period);
    if i > last {
        i = period - i;
    }
    i as usize
}

/// `signal` with `pad_samples` mirrored samples added on each side
/// (`np.pad(signal, pad_samples, mode='reflect')`).
///
/// This is how frames are centred (frame `t` is centred on sample
/// `t·hop`). ARCHITECTURE.md §3 asks for reflect padding; note that librosa ≥ 0.10
/// defaults to zero (`'constant'`) padding, which changes the first and
/// last frames, so the golden fixtures pass `pad_mode='reflect'` explicitly.
/// An empty signal pads to zeros.
pub fn reflect_pad(signal: &[f32], pad_samples: usize) -> Vec<f32> {
    let len = signal.len();
    let mut out = Vec::with_capacity(len + 2 * pad_samples);
    if len == 0 {
        out.resize(2 * pad_samples, 0.0);
        return out;
    }
    out.extend((0..pad_samples).map(|j| signal[reflect_index(j as isize - pad_samples as isize, len)]));
    out.extend_from_slice(signal);
    out.extend((0..pad_samples).map(|j| signal[reflect_index((len + j) as isize, len)]));
    out
}

/// Samples of the frame of length `n_fft` centred on sample `centre` of
/// `signal`, as if `signal` had been reflect-padded by `n_fft/2` on both
/// sides (see [`reflect_pad`]).
///
/// Why: only the first and last frame of a clip reach into the padding, so
/// instead of copying the whole clip into a padded buffer, interior frames
/// borrow `signal` directly and only edge frames are assembled in
/// `edge_buf`. Saves a 0.5 MB copy (and its page faults) per clip.
pub fn centred_frame<'a>(
    signal: &'a [f32],
    centre: usize,
    n_fft: usize,
    edge_buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    let half = n_fft / 2;
    if centre >= half && centre - half + n_fft <= signal.len() {
        return &signal[centre - half..centre - half + n_fft];
    }
    edge_buf.clear();
    if signal.is_empty() {
        edge_buf.resize(n_fft, 0.0);
    } else {
        let start = centre as isize - half as isize;
        edge_buf.extend((0..n_fft).map(|j| signal[reflect_index(start + j as isize, signal.len())]));
    }
    edge_buf
}

/// Number of centred frames for `n_samples` samples: `1 + n_samples / hop`.
///
/// With `n_fft/2` padding on both sides (even `n_fft`) this equals librosa's
/// `1 + (n + 2·(n_fft/2) − n_fft) / hop`; for the 6 s clip it gives the
/// 130 frames the model input is shaped for.
pub fn n_centred_frames(n_samples: usize, hop_len_samples: usize) -> usize {
    1 + n_samples / hop_len_samples.max(1)
}

/// Power spectrum `|X(k)|²`, `k = 0..=n_fft/2`, of one windowed real frame.
///
/// Why its own type: it owns the FFT plan, window and twiddles, built once
/// and reused for every frame of every clip. It computes a real FFT of
/// length `n_fft` with one complex FFT of length `n_fft/2` (even samples in
/// the real part, odd in the imaginary part, then one butterfly pass to
/// separate them), which halves the FFT work compared with a complex FFT on
/// zero-imaginary input. Immutable after construction, hence `Send + Sync`.
pub struct PowerSpectrum {
    n_fft: usize,
    window: Vec<f32>,
    /// Complex FFT of length `n_fft / 2`.
    fft: Arc<dyn Fft<f32>>,
    /// `exp(−2πik/n_fft)` for `k = 0..=n_fft/2`, computed in f64.
    twiddles: Vec<Complex<f32>>,
}

impl std::fmt::Debug for PowerSpectrum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerSpectrum").field("n_fft", &self.n_fft).finish_non_exhaustive()
    }
}

impl PowerSpectrum {
    /// Plans the FFT for frames of `n_fft` samples with a periodic Hann
    /// window of the same length. `n_fft` must be even and ≥ 2 (it is
    /// rounded up to the next even number otherwise).
    pub fn new(n_fft: usize) -> Self {
        let n_fft = n_fft.max(2).next_multiple_of(2);
        let half = n_fft / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        let twiddles = (0..=half)
            .map(|k| {
                let angle = -2.0 * PI * k as f64 / n_fft as f64;
                Complex::new(angle.cos() as f32, angle.sin() as f32)
            })
            .collect();
        Self { n_fft, window: hann_window_periodic(n_fft), fft, twiddles }
    }

    /// Frame length in samples (`n_fft`).
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Number of power bins per frame, `n_fft/2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Reusable buffers for [`PowerSpectrum::frame_power`], allocated once
    /// per clip (or per thread) so the per-frame loop never allocates.
    pub fn make_scratch(&self) -> SpectrumScratch {
        let zero = Complex::new(0.0, 0.0);
        SpectrumScratch {
            buf: vec![zero; self.n_fft / 2],
            fft_scratch: vec![zero; self.fft.get_inplace_scratch_len()],
        }
    }

    /// Windows `frame` (exactly `n_fft` samples; missing samples count as
    /// zero, extra ones are ignored) and writes `|X(k)|²` for
    /// `k = 0..=n_fft/2` into `power_out` (length [`Self::n_bins`]).
    pub fn frame_power(&self, frame: &[f32], scratch: &mut SpectrumScratch, power_out: &mut [f32]) {
        let half = self.n_fft / 2;
        // Pack: z[n] = w[2n]x[2n] + i·w[2n+1]x[2n+1].
        let buf = &mut scratch.buf[..half];
        if frame.len() >= self.n_fft {
            // Whole sample pairs, so the loop has no bounds checks and
            // vectorises.
            let (frame_pairs, _) = frame[..self.n_fft].as_chunks::<2>();
            let (window_pairs, _) = self.window.as_chunks::<2>();
            for ((z, x), w) in buf.iter_mut().zip(frame_pairs).zip(window_pairs) {
                *z = Complex::new(x[0] * w[0], x[1] * w[1]);
            }
        } else {
            // A short frame: the missing tail counts as zero.
            buf.fill(Complex::new(0.0, 0.0));
            for (i, (&x, &w)) in frame.iter().zip(&self.window).enumerate() {
                if i % 2 == 0 {
                    buf[i / 2].re = x * w;
                } else {
                    buf[i / 2].im = x * w;
                }
            }
        }
        self.fft.process_with_scratch(buf, &mut scratch.fft_scratch);

        // Unpack: E[k] = (Z[k] + Z*[h−k])/2 is the FFT of the even samples,
        // O[k] = (Z[k] − Z*[h−k])/(2i) that of the odd ones, and
        // X[k] = E[k] + W^k·O[k]. Bin h−k reuses the same E and W^k·O:
        // E[h−k] = E*[k], O[h−k] = O*[k] and W^(h−k) = −(W^k)*, so
        // X[h−k] = (E[k] − W^k·O[k])*, and |X[h−k]|² = |E[k] − W^k·O[k]|².
        if power_out.len() < half + 1 {
            // Only ever hit by a caller with a short output slice.
            let mut full = vec![0.0; half + 1];
            self.unpack_power(buf, &mut full);
            let n = power_out.len();
            power_out.copy_from_slice(&full[..n]);
        } else {
            self.unpack_power(buf, &mut power_out[..=half]);
        }
    }

    /// The unpacking pass of [`Self::frame_power`]: `z` is the length-`h`
    /// FFT of the packed frame, `power` has `h + 1` bins.
    #[inline]
    fn unpack_power(&self, z: &[Complex<f32>], power: &mut [f32]) {
        let half = z.len();
        let z0 = z[0];
        power[0] = (z0.re + z0.im) * (z0.re + z0.im);
        power[half] = (z0.re - z0.im) * (z0.re - z0.im);
        if half < 2 {
            return;
        }
        // Pairs (k, h−k) with k < h−k; when h is even, k = h/2 pairs with
        // itself and is done after the loop.
        let n_pairs = (half - 1) / 2;
        let lo_z = &z[1..=n_pairs];
        let hi_z = &z[half - n_pairs..half];
        let tw = &self.twiddles[1..=n_pairs];
        let (lo_power, rest) = power[1..half].split_at_mut(n_pairs);
        let hi_start = rest.len() - n_pairs;
        let hi_power = &mut rest[hi_start..];
        // Blocks of LANES pairs gathered into fixed-size arrays, so the
        // arithmetic vectorises despite the reversed upper half.
        const LANES: usize = 8;
        let n_blocks = n_pairs / LANES;
        for blk in 0..n_blocks {
            let base = blk * LANES;
            let (mut zk, mut zm, mut w) =
                ([Complex::default(); LANES], [Complex::default(); LANES], [Complex::default(); LANES]);
            for l in 0..LANES {
                zk[l] = lo_z[base + l];
                zm[l] = hi_z[n_pairs - 1 - base - l];
                w[l] = tw[base + l];
            }
            let mut pk = [0.0f32; LANES];
            let mut pm = [0.0f32; LANES];
            for l in 0..LANES {
                (pk[l], pm[l]) = split_pair(zk[l], zm[l], w[l]);
            }
            lo_power[base..base + LANES].copy_from_slice(&pk);
            for l in 0..LANES {
                hi_power[n_pairs - 1 - base - l] = pm[l];
            }
        }
        for i in n_blocks * LANES..n_pairs {
            let j = n_pairs - 1 - i;
            (lo_power[i], hi_power[j]) = split_pair(lo_z[i], hi_z[j], tw[i]);
        }
        if half.is_multiple_of(2) {
            let k = half / 2;
            power[k] = split_pair(z[k], z[k], self.twiddles[k]).0;
        }
    }
}

/// `(|X[k]|², |X[h−k]|²)` from `zk = Z[k]`, `zm = Z[h−k]` and `w = W^k`
/// (see [`PowerSpectrum::frame_power`]): with E = (zk + zm*)/2,
/// O = (zk − zm*)/(2i) and T = w·O, they are |E + T|² and |E − T|².
#[inline(always)]
fn split_pair(zk: Complex<f32>, zm: Complex<f32>, w: Complex<f32>) -> (f32, f32) {
    let e_re = 0.5 * (zk.re + zm.re);
    let e_im = 0.5 * (zk.im - zm.im);
    // O = (zk − zm*)/(2i): (d_re + i·d_im)/i = d_im − i·d_re.
    let o_re = 0.5 * (zk.im + zm.im);
    let o_im = -0.5 * (zk.re - zm.re);
    let t_re = w.re * o_re - w.im * o_im;
    let t_im = w.re * o_im + w.im * o_re;
    let (a_re, a_im) = (e_re + t_re, e_im + t_im);
    let (b_re, b_im) = (e_re - t_re, e_im - t_im);
    (a_re * a_re + a_im * a_im, b_re * b_re + b_im * b_im)
}

/// Per-call working memory for [`PowerSpectrum::frame_power`]; kept out of
/// `PowerSpectrum` so the latter can be shared between threads.
#[derive(Debug, Clone)]
pub struct SpectrumScratch {
    buf: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hann_is_periodic() {
        let w = hann_window_periodic(2048);
        assert_eq!(w.len(), 2048);
        assert_eq!(w[0], 0.0);
        assert_eq!(w[1024], 1.0);
        for n in 1..2048 {
            assert!((w[n] - w[2048 - n]).abs() < 1e-7, "n={n}");
        }
        // Periodic Hann sums to exactly N/2.
        let s: f64 = w.iter().map(|&x| x as f64).sum();
        assert!((s - 1024.0).abs() < 1e-3);
    }

    #[test]
    fn reflect_pad_matches_numpy() {
        // np.pad([1,2,3,4], 2, mode='reflect') == [3,2,1,2,3,4,3,2]
        assert_eq!(reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
        // Longer than the signal: np.pad([1,2,3], 5, mode='reflect')
        // == [2,1,2,3,2,1,2,3,2,1,2,3,2]
        assert_eq!(
            reflect_pad(&[1.0, 2.0, 3.0], 5),
            vec![2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
        );
        assert_eq!(reflect_pad(&[7.0], 2), vec![7.0; 5]);
        assert_eq!(reflect_pad(&[], 2), vec![0.0; 4]);
    }

    #[test]
    fn centred_frame_matches_reflect_pad() {
        let mut edge = Vec::new();
        for len in [5000usize, 4096, 3000] {
            let signal: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() + i as f32 * 1e-3).collect();
            let padded = reflect_pad(&signal, 512);
            for t in 0..n_centred_frames(len, 256) {
                let want = &padded[t * 256..t * 256 + 1024];
                assert_eq!(centred_frame(&signal, t * 256, 1024, &mut edge), want, "len {len} frame {t}");
            }
        }
    }

    #[test]
    fn frame_count_for_clip() {
        assert_eq!(n_centred_frames(132_300, 1024), 130);
        assert_eq!(n_centred_frames(1024, 1024), 2);
        assert_eq!(n_centred_frames(0, 1024), 1);
    }

    /// Reference: windowed DFT in f64.
    fn naive_power(frame: &[f32], n_fft: usize) -> Vec<f64> {
        let w = hann_window_periodic(n_fft);
        (0..=n_fft / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (n, &wn) in w.iter().enumerate() {
                    let x = frame.get(n).copied().unwrap_or(0.0) as f64 * wn as f64;
                    let a = -2.0 * PI * (k * n) as f64 / n_fft as f64;
                    re += x * a.cos();
                    im += x * a.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    #[test]
    fn power_matches_naive_dft() {
        // Deterministic pseudo-random samples.
        let mut state = 12345u32;
        let signal: Vec<f32> = (0..2048)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        // 64: even half (self-paired middle bin) with a vector block and a
        // scalar tail; 30: odd half; 2048: the real size; then short frames
        // (odd and even length) whose tail counts as zero.
        for (n_fft, frame_len) in [(64, 64), (30, 30), (2048, 2048), (64, 41), (64, 40)] {
            let ps = PowerSpectrum::new(n_fft);
            let frame = &signal[..frame_len];
            let mut scratch = ps.make_scratch();
            let mut power = vec![0.0; ps.n_bins()];
            ps.frame_power(frame, &mut scratch, &mut power);
            let peak = naive_power(frame, n_fft).iter().fold(0.0f64, |a, &b| a.max(b));
            for (k, (&p, want)) in power.iter().zip(naive_power(frame, n_fft)).enumerate() {
                assert!(
                    (p as f64 - want).abs() <= 1e-5 * want + 1e-6 * peak,
                    "n_fft {n_fft} len {frame_len} bin {k}: {p} vs {want}"
                );
            }
        }
    }

    #[test]
    fn sine_peaks_at_its_bin() {
        let n_fft = 2048;
        let ps = PowerSpectrum::new(n_fft);
        let bin = 100.0;
        let frame: Vec<f32> =
            (0..n_fft).map(|n| (2.0 * PI * bin * n as f64 / n_fft as f64).sin() as f32).collect();
        let mut scratch = ps.make_scratch();
        let mut power = vec![0.0; ps.n_bins()];
        ps.frame_power(&frame, &mut scratch, &mut power);
        let argmax = power.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(argmax, 100);
        // Unit sine through a Hann window: |X| = N/4.
        assert!((power[100].sqrt() - 512.0).abs() < 0.01);
    }
}
