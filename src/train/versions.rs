//! The model versions of a library: which weights a version name stands
//! for, removing a fine-tuned version the user does not want, and noticing
//! that a library still shows an earlier built-in model.
//!
//! Why here: fine-tuning makes versions (`<models dir>/<version>/` plus the
//! vectors, tags and map stored under that name); the window starts a run
//! from whatever version it shows and may later delete the result. Both
//! need the same rule: the built-in model is not a directory and is never
//! deleted or overwritten.

use std::path::Path;

use crate::config::model_dir;
use crate::model::record::ModelBundle;
use crate::store::{ModelRow, Store};
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

/// A library whose vectors come from an earlier built-in model than the one
/// this build carries (the built-in model improved in an update).
///
/// Why: vectors are versioned and never mixed, so after an update the
/// library keeps showing the old model's map and tags; the window offers to
/// re-embed with the new one instead of switching silently or never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinUpgrade {
    /// The version shown now (an earlier built-in model).
    pub from: String,
    /// The built-in model's version.
    pub to: String,
}

/// The upgrade to offer for the library at `db` that shows `shown` among
/// `models`, if any: `shown` has the built-in model's name, another version
/// and no folder in the library's models directory (fine-tuned versions
/// have one; those stay the user's choice).
pub fn builtin_upgrade(
    db: &Path,
    models: &[ModelRow],
    shown: Option<&str>,
    builtin: &crate::model::record::ModelCard,
) -> Option<BuiltinUpgrade> {
    let shown = shown?;
    let row = models.iter().find(|m| m.version == shown)?;
    let earlier_builtin =
        row.name == builtin.name && row.version != builtin.version && !model_dir(db, shown).exists();
    earlier_builtin.then(|| BuiltinUpgrade { from: shown.to_owned(), to: builtin.version.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, name: &str, parent: Option<&str>) -> ModelRow {
        ModelRow {
            version: version.into(),
            name: name.into(),
            parent: parent.map(Into::into),
            config_json: String::new(),
        }
    }

    #[test]
    fn only_an_earlier_built_in_version_is_offered_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        let builtin = crate::model::record::embedded_card().unwrap();
        let models = vec![
            row("dpnn-v0.9", &builtin.name, None),
            row("dpnn-v0.9-ft1", &builtin.name, Some("dpnn-v0.9")),
            row(&builtin.version, &builtin.name, None),
            row("dpnn-init-0.1", "dpnn-init", None),
        ];
        std::fs::create_dir_all(model_dir(&db, "dpnn-v0.9-ft1")).unwrap();
        let offer = |shown: &str| builtin_upgrade(&db, &models, Some(shown), &builtin);
        assert_eq!(
            offer("dpnn-v0.9"),
            Some(BuiltinUpgrade { from: "dpnn-v0.9".into(), to: builtin.version.clone() })
        );
        assert_eq!(offer("dpnn-v0.9-ft1"), None, "a fine-tuned version has its folder: the user's choice");
        assert_eq!(offer(&builtin.version), None, "already the built-in model");
        assert_eq!(offer("dpnn-init-0.1"), None, "another model altogether");
        assert_eq!(offer("unknown"), None);
        assert_eq!(builtin_upgrade(&db, &models, None, &builtin), None, "nothing embedded yet");
    }
}
