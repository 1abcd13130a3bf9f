//! The model versions of a library: which weights a version name stands
//! for, and removing a fine-tuned version the user does not want.
//!
//! Why here: fine-tuning makes versions (`<models dir>/<version>/` plus the
//! vectors, tags and map stored under that name); the window starts a run
//! from whatever version it shows and may later delete the result. Both
//! need the same rule: the built-in model is not a directory and is never
//! deleted or overwritten.

use std::path::Path;

use crate::config::model_dir;
use crate::model::record::ModelBundle;
use crate::store::Store;
use crate::{Error, Result};

/// The weights of model `version` of the library at `db`: the built-in
/// model for its own version (or `None`), else `<models dir>/<version>/`.
///
/// # Errors
/// The version's directory is missing or unreadable (a version imported by
/// another copy of tuneatlas, or deleted by hand).
pub fn bundle_of_version(db: &Path, version: Option<&str>) -> Result<ModelBundle> {
    let builtin = ModelBundle::embedded()?;
    match version {
        None => Ok(builtin),
        Some(v) if v == builtin.card.version => Ok(builtin),
        Some(v) => ModelBundle::read_dir(&model_dir(db, v)),
    }
}

/// Deletes fine-tuned version `version` of the library at `db`: its stored
/// vectors, tags and map ([`Store::delete_model`]), then its model folder.
/// Returns how many track vectors were removed.
///
/// # Errors
/// [`Error::Invalid`] for the built-in version (never deleted), an unknown
/// version or one another version descends from; store or file failures.
pub fn delete_version(store: &mut Store, db: &Path, version: &str) -> Result<usize> {
    let builtin = ModelBundle::embedded()?;
    if version == builtin.card.version {
        return Err(Error::Invalid(format!("{version} is the built-in model: it cannot be deleted")));
    }
    let removed = store.delete_model(version)?;
    let dir = model_dir(db, version);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))?;
    }
    Ok(removed)
}
