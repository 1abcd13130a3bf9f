//! Splitting one folder's import over several machines: `import --shard K/N`
//! imports only the files of shard K, each into its own library file, and
//! `merge` (`store::merge_libraries`) puts the N libraries back together.
//!
//! Which shard a file belongs to depends on nothing but its path relative to
//! the imported folder: FNV-1a (64-bit) of the relative path's bytes, its
//! components joined by `/`, modulo N. No machine, build, thread count or
//! walk order changes the answer, so N processes started anywhere agree on
//! a partition without talking to each other, and a file keeps its shard
//! from one run to the next. (FNV-1a because it is a few lines, fixed by its
//! specification and pinned by the tests below; std's hashers may change
//! between Rust releases.)
//!
//! Shards are numbered 1 to N, the way a person counts and GNU parallel's
//! `{#}` does; a Slurm array for this runs `--array=1-N`, so that
//! `$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT` names a shard. 0 is
//! refused with a message saying so, rather than silently shifting every
//! file to another shard.

use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use serde::Serialize;

use crate::{Error, Result};

/// FNV-1a 64-bit offset basis and prime (the published constants).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One of `count` shards of a folder, numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// Which shard, 1 ≤ `index` ≤ `count`.
    pub index: u32,
    /// How many shards the folder is split into.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`; fails unless 1 ≤ `index` ≤ `count`.
    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if count == 0 {
            return Err(Error::Invalid("shard K/0: the number of shards must be at least 1".into()));
        }
        if index == 0 || index > count {
            return Err(Error::Invalid(format!(
                "shard {index}/{count}: shards are numbered 1 to {count} (a Slurm array for this runs \
                 --array=1-{count})"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether the file at `path` belongs to this shard, `root` being the
    /// imported folder. A path outside `root` (which the walk does not
    /// yield) is judged by its full path.
    pub fn owns(&self, root: &Path, path: &Path) -> bool {
        shard_of(path.strip_prefix(root).unwrap_or(path), self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses "K/N", e.g. "2/8".
    fn from_str(text: &str) -> Result<Shard> {
        let bad = || Error::Invalid(format!("shard \"{text}\": expected K/N with 1 ≤ K ≤ N, e.g. 2/8"));
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

/// The shards of a split that none of `recorded` ("K/N", as import runs
/// record them) covers: what a merge of shard libraries still lacks. Empty
/// when the recorded shards do not all come from one split of N (then no
/// set of shards is "complete").
pub fn missing_shards<'a>(recorded: impl IntoIterator<Item = &'a str>) -> Vec<Shard> {
    let shards: Vec<Shard> = recorded.into_iter().filter_map(|s| s.parse().ok()).collect();
    let Some(count) = shards.first().map(|s| s.count) else { return Vec::new() };
    if shards.iter().any(|s| s.count != count) {
        return Vec::new();
    }
    (1..=count)
        .filter(|k| !shards.iter().any(|s| s.index == *k))
        .map(|index| Shard { index, count })
        .collect()
}

/// The shard (1 to `count`) of a file at `relative` path inside the
/// imported folder (see the module docs).
pub fn shard_of(relative: &Path, count: u32) -> u32 {
    (relative_path_hash(relative) % u64::from(count.max(1))) as u32 + 1
}

/// FNV-1a of the path's components joined by `/` (whatever the OS's
/// separator), each as its bytes (on Unix the OS's own; elsewhere UTF-8).
fn relative_path_hash(relative: &Path) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    let mut first = true;
    for component in relative.components() {
        let Component::Normal(name) = component else { continue };
        if !first {
            eat(b"/");
        }
        first = false;
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            eat(name.as_bytes());
        }
        #[cfg(not(unix))]
        {
            eat(name.to_string_lossy().as_bytes());
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_stays_what_it_is() {
        // Published FNV-1a 64 test vectors: the empty string and "a".
        assert_eq!(relative_path_hash(Path::new("")), 0xcbf2_9ce4_8422_2325);
        assert_eq!(relative_path_hash(Path::new("a")), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(relative_path_hash(Path::new("foobar")), 0x8594_4171_f739_67e8);
        // Components joined by '/', whatever the spelling of the path.
        assert_eq!(relative_path_hash(Path::new("a/b.mp3")), relative_path_hash(Path::new("a//b.mp3")));
        assert_eq!(relative_path_hash(Path::new("./a/b.mp3")), relative_path_hash(Path::new("a/b.mp3")));
        // Pinned: a file must never change shard between versions.
        assert_eq!(shard_of(Path::new("Artist/Album/01 Song.flac"), 8), 8);
        assert_eq!(shard_of(Path::new("Artist/Album/02 Song.flac"), 8), 7);
    }

    #[test]
    fn every_file_is_in_exactly_one_shard_and_they_are_even() {
        let root = Path::new("/music");
        let shards: Vec<Shard> = (1..=4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for i in 0..4000 {
            let path = root.join(format!("artist {}/album {}/{i:04} track.mp3", i % 37, i % 101));
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].owns(root, &path)).collect();
            assert_eq!(owners.len(), 1, "{}", path.display());
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (850..=1150).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn a_merge_lacks_the_shards_no_library_took() {
        assert_eq!(missing_shards(["1/3", "3/3"]), [Shard { index: 2, count: 3 }]);
        assert!(missing_shards(["2/2", "1/2"]).is_empty());
        assert!(missing_shards(["1/2", "1/3"]).is_empty(), "two different splits: nothing to complete");
        assert!(missing_shards([]).is_empty());
    }

    #[test]
    fn shards_are_numbered_from_one_and_bad_ones_say_why() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard { index: 2, count: 8 });
        assert_eq!(" 8 / 8 ".parse::<Shard>().unwrap().to_string(), "8/8");
        let zero = "0/4".parse::<Shard>().unwrap_err().to_string();
        assert!(zero.contains("numbered 1 to 4") && zero.contains("--array=1-4"), "{zero}");
        assert!("5/4".parse::<Shard>().unwrap_err().to_string().contains("numbered 1 to 4"));
        assert!("1/0".parse::<Shard>().unwrap_err().to_string().contains("at least 1"));
        assert!("two/8".parse::<Shard>().unwrap_err().to_string().contains("expected K/N"));
        assert!("3".parse::<Shard>().unwrap_err().to_string().contains("expected K/N"));
    }
}
