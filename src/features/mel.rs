//! The mel step: Slaney mel scale, the Slaney-normalised triangular
//! filterbank, and power → decibels.
//!
//! Everything here reproduces `librosa.filters.mel(htk=False,
//! norm='slaney')` and `librosa.power_to_db(ref=1.0, amin=1e-10,
//! top_db=None)` (ARCHITECTURE.md §3), so that features computed by tuneatlas match
//! the ones the model was trained on; the golden test checks it.

/// Floor applied to power before the logarithm (librosa's `amin`), so
/// silence maps to a finite −100 dB instead of −∞.
pub const AMIN_POWER: f32 = 1e-10;

/// Hz below which the Slaney scale is linear.
const MIN_LOG_HZ: f64 = 1000.0;
/// Hz per mel in the linear region (Slaney: 200/3).
const LINEAR_HZ_PER_MEL: f64 = 200.0 / 3.0;
/// Mel value at [`MIN_LOG_HZ`].
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / LINEAR_HZ_PER_MEL;

/// Slaney log-region step: 27 mels per factor 6.4 in frequency.
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel on the Slaney (Auditory Toolbox) scale, as
/// `librosa.hz_to_mel(htk=False)`: linear below 1 kHz, logarithmic above.
/// Needed to place the mel band edges exactly where librosa does.
pub fn hz_to_mel_slaney(freq_hz: f64) -> f64 {
    if freq_hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (freq_hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        freq_hz / LINEAR_HZ_PER_MEL
    }
}

/// Mel → Hz on the Slaney scale, the inverse of [`hz_to_mel_slaney`]
/// (`librosa.mel_to_hz(htk=False)`).
pub fn mel_to_hz_slaney(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        LINEAR_HZ_PER_MEL * mel
    }
}

/// Power in decibels relative to 1.0, `10·log10(max(power, 1e-10))`.
///
/// Matches librosa's `power_to_db(ref=1.0, amin=1e-10, top_db=None)`, and is
/// additionally total: NaN maps to −100 dB and +∞ to about +383 dB, so a bad
/// sample can never put a NaN or infinity into the model input.
#[inline]
// Not `clamp`: it passes NaN through, whereas `f32::max` returns the non-NaN
// operand, so NaN becomes AMIN_POWER.
#[allow(clippy::manual_clamp)]
pub fn power_to_db(power: f32) -> f32 {
    10.0 * power.max(AMIN_POWER).min(f32::MAX).log10()
}

/// One triangular mel filter, stored sparsely: only its nonzero weights,
/// which cover the contiguous bins `first_bin .. first_bin + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// Index of the first FFT bin with a nonzero weight.
    pub first_bin: usize,
    /// Weights of bins `first_bin..`, in f32 exactly as librosa stores them.
    pub weights: Vec<f32>,
}

/// A mel filterbank mapping `n_fft/2 + 1` power bins to `n_mels` bands.
///
/// Why sparse: each triangle touches only a few dozen of the 1025 bins, so
/// storing just the nonzero span makes applying the bank about 40× cheaper
/// than a dense matrix product, which matters at hundreds of clips per second.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    n_bins: usize,
    bands: Vec<MelBand>,
}

impl MelFilterbank {
    /// Builds the filterbank exactly as `librosa.filters.mel(sr, n_fft,
    /// n_mels, fmin, fmax, htk=False, norm='slaney', dtype=float32)`:
    /// `n_mels + 2` edge frequencies evenly spaced in Slaney mel between
    /// `fmin_hz` and `fmax_hz`, triangles between neighbouring edges, each
    /// scaled by `2 / (upper_hz − lower_hz)` so every band has unit area in
    /// Hz (constant energy per band for white noise). Arithmetic is f64 with
    /// librosa's rounding points, so the f32 weights agree to the last bit
    /// or two.
    pub fn new(sample_rate_hz: u32, n_fft: usize, n_mels: usize, fmin_hz: f32, fmax_hz: f32) -> Self {
        let n_bins = n_fft / 2 + 1;
        let bin_hz = sample_rate_hz as f64 / n_fft as f64;
        let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();

        // np.linspace(min_mel, max_mel, n_mels + 2), then back to Hz.
        let n_edges = n_mels + 2;
        let min_mel = hz_to_mel_slaney(fmin_hz as f64);
        let max_mel = hz_to_mel_slaney(fmax_hz as f64);
        let step = (max_mel - min_mel) / (n_edges - 1) as f64;
        let edges_hz: Vec<f64> = (0..n_edges)
            .map(|i| {
                let mel = if i == n_edges - 1 { max_mel } else { i as f64 * step + min_mel };
                mel_to_hz_slaney(mel)
            })
            .collect();

        let bands = (0..n_mels)
            .map(|i| {
                let (lo, mid, hi) = (edges_hz[i], edges_hz[i + 1], edges_hz[i + 2]);
                let (fdiff_lo, fdiff_hi) = (mid - lo, hi - mid);
                let enorm = 2.0 / (hi - lo);
                let dense = fft_freqs.iter().map(|&f| {
                    let lower = -(lo - f) / fdiff_lo;
                    let upper = (hi - f) / fdiff_hi;
                    let w = 0.0f64.max(lower.min(upper));
                    // librosa stores the triangle as f32, then multiplies the
                    // f32 array by the f64 norm in place (f64 product, f32 store).
                    ((w as f32) as f64 * enorm) as f32
                });
                let dense: Vec<f32> = dense.collect();
                let first = dense.iter().position(|&w| w != 0.0);
                match first {
                    Some(first_bin) => {
                        let last = dense.iter().rposition(|&w| w != 0.0).unwrap_or(first_bin);
                        MelBand { first_bin, weights: dense[first_bin..=last].to_vec() }
                    }
                    // An empty band (too many mels for the resolution): it
                    // always outputs zero power, as librosa's would.
                    None => MelBand { first_bin: 0, weights: Vec::new() },
                }
            })
            .collect();
        Self { n_bins, bands }
    }

    /// Number of power bins the bank expects (`n_fft/2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// The sparse bands, lowest frequency first (for inspection and tests).
    pub fn bands(&self) -> &[MelBand] {
        &self.bands
    }

    /// Mel power of band `band` for one frame's `power` spectrum
    /// (`Σ_k weight_k · power_k`). Bins beyond `power.len()` count as zero.
    #[inline]
    pub fn band_power(&self, band: usize, power: &[f32]) -> f32 {
        let Some(b) = self.bands.get(band) else {
            return 0.0;
        };
        let bins = power.get(b.first_bin..).unwrap_or(&[]);
        let n = b.weights.len().min(bins.len());
        let (weights, bins) = (&b.weights[..n], &bins[..n]);
        // Four independent partial sums: lets the compiler vectorise, and
        // breaks the add dependency chain (a plain `.sum()` cannot be
        // reordered, so it runs one add at a time).
        let mut acc = [0.0f32; 4];
        let (w4, w_rest) = weights.split_at(n - n % 4);
        let (p4, p_rest) = bins.split_at(n - n % 4);
        for (w, p) in w4.chunks_exact(4).zip(p4.chunks_exact(4)) {
            for i in 0..4 {
                acc[i] += w[i] * p[i];
            }
        }
        let tail: f32 = w_rest.iter().zip(p_rest).map(|(w, p)| w * p).sum();
        (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
    }

    /// Applies the bank to one frame: `mel_out[m] = Σ_k W[m][k] · power[k]`
    /// for every band (`mel_out.len()` bands at most).
    pub fn apply(&self, power: &[f32], mel_out: &mut [f32]) {
        for (m, out) in mel_out.iter_mut().enumerate().take(self.bands.len()) {
            *out = self.band_power(m, power);
        }
    }

    /// The bank as a dense `[n_mels][n_bins]` matrix, row-major, for
    /// comparing with `librosa.filters.mel` output.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0; self.bands.len() * self.n_bins];
        for (m, b) in self.bands.iter().enumerate() {
            let row = &mut dense[m * self.n_bins..(m + 1) * self.n_bins];
            for (dst, &w) in row.iter_mut().skip(b.first_bin).zip(&b.weights) {
                *dst = w;
            }
        }
        dense
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bank() -> MelFilterbank {
        MelFilterbank::new(22_050, 2048, 80, 16.0, 11_000.0)
    }

    #[test]
    fn slaney_scale_reference_points() {
        // Reference values from librosa.hz_to_mel(htk=False).
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel_slaney(16.0) - 0.24).abs() < 1e-12);
        assert!((hz_to_mel_slaney(6400.0) - 42.0).abs() < 1e-9);
        for &hz in &[0.0, 16.0, 440.0, 999.0, 1000.0, 4000.0, 11_000.0] {
            let back = mel_to_hz_slaney(hz_to_mel_slaney(hz));
            assert!((back - hz).abs() < 1e-9 * (1.0 + hz), "{hz} -> {back}");
        }
    }

    #[test]
    fn filterbank_shape_and_coverage() {
        let fb = bank();
        assert_eq!(fb.n_mels(), 80);
        assert_eq!(fb.n_bins(), 1025);
        let bin_hz = 22_050.0 / 2048.0;
        let mut prev_peak = 0usize;
        for (m, b) in fb.bands().iter().enumerate() {
            assert!(!b.weights.is_empty(), "band {m} empty");
            assert!(b.weights.iter().all(|&w| w > 0.0 && w.is_finite()));
            // Bands lie within fmin..fmax.
            assert!(b.first_bin as f64 * bin_hz > 16.0);
            assert!(((b.first_bin + b.weights.len() - 1) as f64 * bin_hz) < 11_000.0);
            // Peaks move up in frequency.
            let peak =
                b.first_bin + b.weights.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).unwrap().0;
            assert!(peak >= prev_peak, "band {m}");
            prev_peak = peak;
        }
    }

    #[test]
    fn slaney_norm_gives_unit_area() {
        // Each triangle has height 2/(hi−lo) over a base of (hi−lo) Hz, so its
        // sampled area Σ w·Δf is ≈ 1. The triangles' corners fall between
        // bins, so the sampled area is off by up to ~1.1 % (librosa's own
        // bank ranges 0.9929..1.0112 for these parameters).
        let fb = bank();
        let bin_hz = 22_050.0f64 / 2048.0;
        for (m, b) in fb.bands().iter().enumerate() {
            let area: f64 = b.weights.iter().map(|&w| w as f64 * bin_hz).sum();
            assert!((area - 1.0).abs() < 0.015, "band {m}: area {area}");
        }
    }

    #[test]
    fn apply_matches_dense() {
        let fb = bank();
        let power: Vec<f32> = (0..1025).map(|k| ((k * 37) % 101) as f32 * 0.01).collect();
        let mut mel = vec![0.0; 80];
        fb.apply(&power, &mut mel);
        let dense = fb.to_dense();
        for m in 0..80 {
            let expected: f64 = (0..1025).map(|k| dense[m * 1025 + k] as f64 * power[k] as f64).sum();
            assert!((mel[m] as f64 - expected).abs() < 1e-5 * (1.0 + expected));
        }
    }

    #[test]
    fn db_floor_and_nonfinite() {
        assert_eq!(power_to_db(0.0), -100.0);
        assert_eq!(power_to_db(-1.0), -100.0);
        assert_eq!(power_to_db(f32::NAN), -100.0);
        assert!(power_to_db(f32::INFINITY).is_finite());
        assert!((power_to_db(1.0)).abs() < 1e-7);
        assert!((power_to_db(100.0) - 20.0).abs() < 1e-5);
    }
}
