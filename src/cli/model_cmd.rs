//! `tuneatlas model ...`: model directories. `init` regenerates the shipped
//! untrained initialisation byte for byte, so `models/dpnn-init/` is
//! reproducible from source (no opaque binary in the repository).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use tuneatlas::model::init::{INIT_SEED, write_init_model_dir};

/// Arguments of `tuneatlas model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub what: ModelWhat,
}

/// Model subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelWhat {
    /// Write the deterministic, UNTRAINED initial model (model.toml + weights) to a directory.
    Init {
        /// Output directory (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the initialisation (the shipped models/dpnn-init uses the default).
        #[arg(long, default_value_t = INIT_SEED)]
        seed: u64,
    },
}

/// Runs a model subcommand.
pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    match &args.what {
        ModelWhat::Init { out, seed } => {
            write_init_model_dir(out, *seed)?;
            println!("wrote the untrained initial model (seed {seed}) to {}", out.display());
            Ok(())
        }
    }
}
