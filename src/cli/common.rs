//! What several subcommands share: opening a library that must already
//! exist, and choosing the model version whose vectors or tags to read.
//!
//! Why one file: each subcommand had grown its own copy, and copies drift —
//! the error a user sees for a missing library should read the same
//! whichever command they ran. Rules the window also applies belong in the
//! core instead (ARCHITECTURE.md §9).

use std::path::Path;

use tuneatlas::store::Store;

/// Opens the library at `db`, which an import must have created: a command
/// that only reads never creates an empty library by accident.
pub fn open_existing(db: &Path) -> anyhow::Result<Store> {
    must_exist(db)?;
    Ok(Store::open(db)?)
}

/// As [`open_existing`], read-only, for the commands that only look
/// (`tracks`, `errors`, `similar`, `tags`, `export`, `map`'s version check,
/// `play`): looking must never migrate, lock or otherwise change a library.
pub fn open_read_only(db: &Path) -> anyhow::Result<Store> {
    must_exist(db)?;
    Ok(Store::open_read_only(db)?)
}

fn must_exist(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        anyhow::bail!("no library yet at {} (run `tuneatlas import DIR` first)", tuneatlas::text::shown(db));
    }
    Ok(())
}

/// The model version asked for, which must be known to the library; else
/// the one most of the library is embedded with (`None`: never embedded).
pub fn known_model_version(store: &Store, requested: Option<&str>) -> anyhow::Result<Option<String>> {
    match requested {
        Some(v) => {
            let models = store.models()?;
            if !models.iter().any(|m| m.version == v) {
                let known: Vec<&str> = models.iter().map(|m| m.version.as_str()).collect();
                anyhow::bail!(
                    "unknown model version {v} (known: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                );
            }
            Ok(Some(v.to_string()))
        }
        None => Ok(store.latest_model_version()?),
    }
}

/// The model version to use: as [`known_model_version`], and it must have
/// vectors (what `similar`, `tags` and `map` read).
pub fn model_version(store: &Store, requested: Option<&str>) -> anyhow::Result<String> {
    let version = known_model_version(store, requested)?.ok_or_else(|| {
        anyhow::anyhow!("no vectors yet: no model has embedded this library — run `tuneatlas embed`")
    })?;
    if store.count_vectors(&version)? == 0 {
        anyhow::bail!("no vectors for model {version} — run `tuneatlas embed`");
    }
    Ok(version)
}
