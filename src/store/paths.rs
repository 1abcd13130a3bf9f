//! File paths in the database as their exact bytes.
//!
//! Why bytes: on Unix a file name is any sequence of bytes, not necessarily
//! UTF-8. Stored as text, such a name had to be made UTF-8 first, which loses
//! the odd bytes: two files that differ only there became one track, and the
//! stored path could not open the file again. Paths are therefore stored as
//! BLOBs holding the OS's bytes, and read back from either a BLOB or (in a
//! library not yet migrated) TEXT. Elsewhere than Unix paths are stored as
//! their UTF-8 text bytes, which on those systems loses nothing that a
//! music player can name.

use std::path::{Path, PathBuf};

use rusqlite::types::{FromSqlError, ValueRef};

/// The bytes stored for `path`.
pub(crate) fn path_to_sql(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

/// The path stored in column `idx` of `row` (BLOB or TEXT).
pub(crate) fn path_column(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<PathBuf> {
    let bytes = match row.get_ref(idx)? {
        ValueRef::Blob(b) => b,
        ValueRef::Text(t) => t,
        other => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                idx,
                other.data_type(),
                Box::new(FromSqlError::InvalidType),
            ));
        }
    };
    Ok(path_from_bytes(bytes))
}

pub(crate) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}
