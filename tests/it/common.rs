//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// A committed fixture under `tests/fixtures/audio/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio").join(name)
}

/// Runs `f` with file-permission checks enforced even when the tests run as
/// root (as CI does): drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this
/// thread's effective set — threads it spawns inherit that — and restores them.
pub fn without_root_file_access<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_os = "linux")]
    {
        use caps::{CapSet, Capability};
        let dropped: Vec<Capability> = [Capability::CAP_DAC_OVERRIDE, Capability::CAP_DAC_READ_SEARCH]
            .into_iter()
            .filter(|c| caps::has_cap(None, CapSet::Effective, *c).unwrap_or(false))
            .collect();
        for c in &dropped {
            caps::drop(None, CapSet::Effective, *c).expect("drop capability");
        }
        let out = f();
        for c in &dropped {
            caps::raise(None, CapSet::Effective, *c).expect("restore capability");
        }
        out
    }
    #[cfg(not(target_os = "linux"))]
    f()
}

/// Writes a mono 16-bit WAV of `seconds` of a sine at `freq_hz`: distinct
/// files on demand (each frequency gives different bytes) for tests that
/// need many tracks.
pub fn write_wav(path: &std::path::Path, seconds: f64, freq_hz: f64, sample_rate_hz: u32) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let n = (seconds * f64::from(sample_rate_hz)) as usize;
    for i in 0..n {
        let t = i as f64 / f64::from(sample_rate_hz);
        let s = 0.3 * (2.0 * std::f64::consts::PI * freq_hz * t).sin();
        w.write_sample((s * 32767.0) as i16).expect("sample");
    }
    w.finalize().expect("finalize wav");
}

/// Renames every stored model version of the library at `db` to `version`:
/// the library as an earlier build, whose built-in model had that version,
/// wrote it (same schema, other version name).
pub fn pretend_earlier_model(db: &std::path::Path, version: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
    for table in [
        "track_vectors",
        "clip_vectors",
        "tag_scores",
        "tag_vocabulary",
        "map_layouts",
        "map_coords",
        "models",
    ] {
        let column = if table == "models" { "version" } else { "model_version" };
        conn.execute(&format!("UPDATE {table} SET {column} = ?1"), [version]).unwrap();
    }
    conn.execute("UPDATE models SET parent = NULL", []).unwrap();
}

/// Held by the tests that run a training loop (distillation, fine-tuning)
/// in this process: burn's generator (dropout, seeded per step) is the
/// device's, shared by every thread, so two runs at once would draw from
/// each other's sequence and a resumed run could not repeat an
/// uninterrupted one.
pub fn training_in_process() -> std::sync::MutexGuard<'static, ()> {
    static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TRAINING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
