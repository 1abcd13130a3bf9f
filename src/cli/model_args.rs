//! Options shared by every command that runs the DPNN (`import`, `embed`):
//! which model and which device, and the one place that loads them.

use std::path::PathBuf;

use clap::Args;
use tuneatlas::model::backend::DeviceChoice;
use tuneatlas::model::infer::Embedder;

/// `--model DIR` and `--device auto|gpu|cpu`.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model directory (model.toml + weights); default: the model built into tuneatlas.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Where the model runs: auto (a real GPU if there is one, else the CPU), gpu (wgpu, even a
    /// software Vulkan device), or cpu.
    #[arg(long, default_value = "auto", value_name = "auto|gpu|cpu")]
    pub device: DeviceChoice,
}

impl ModelArgs {
    /// Loads the chosen model on the chosen device, printing the device and
    /// any notice (e.g. "no GPU: running on the CPU") to stderr.
    pub fn load(&self) -> anyhow::Result<Embedder> {
        let mut embedder = Embedder::open(self.model.as_deref(), self.device)?;
        for notice in embedder.take_notices() {
            eprintln!("note: {notice}");
        }
        eprintln!("model {} on {}", embedder.model_version(), embedder.device_description());
        if !embedder.is_trained() {
            eprintln!(
                "note: {} is an UNTRAINED deterministic initialisation: vectors and tags are placeholders",
                embedder.model_version()
            );
        }
        Ok(embedder)
    }
}
