//! The spool: local files an import works with (fetched documents on their way to the object
//! store, an upload's copy, its result file while written). Each process spools in a folder of
//! its own under `$TMPDIR/coverdesk-spool/`, holding a lock on it while it lives; the first use
//! ([`ready`]) in a process removes the folders of processes that died (a crash, a Lambda
//! timeout, SIGKILL) with whatever they left, so a Lambda sandbox's `/tmp` never fills with a dead
//! import's files.
//! Folders of live processes (the local server beside a `coverdesk import`) are left alone.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

const LOCK: &str = ".lock";

/// This process's spool folder (named once; nothing on disk until [`ready`]).
static OWN: OnceLock<PathBuf> = OnceLock::new();
/// The lock that marks this process's folder alive, taken by the first [`ready`] of it.
static LOCK_HELD: OnceLock<Option<File>> = OnceLock::new();

/// This process's spool folder. Naming it touches no disk: the folder is created, locked, and
/// the dead processes' folders removed by the first [`ready`] -- so a POSTed import that spools
/// nothing (its documents all small enough to stay in memory) pays none of it; an upload's
/// import spools its batch file, so it always does.
pub fn dir() -> PathBuf {
    OWN.get_or_init(|| {
        let name = crate::crypto::uuid().unwrap_or_else(|_| std::process::id().to_string());
        std::env::temp_dir().join("coverdesk-spool").join(name)
    })
    .clone()
}

/// Makes `dir` ready to spool files in: this process's folder ([`dir`]) is created, locked and
/// its neighbours swept on first use; any other folder (a test's, a bench's) is just created.
pub fn ready(dir: &Path) -> std::io::Result<()> {
    if OWN.get().is_some_and(|own| own == dir) {
        LOCK_HELD.get_or_init(|| open(dir));
    }
    std::fs::create_dir_all(dir)
}

/// Creates `own`, takes its lock, and removes what dead processes left beside it.
fn open(own: &Path) -> Option<File> {
    let lock =
        std::fs::create_dir_all(own).and_then(|()| File::create(own.join(LOCK))).ok().filter(|f| f.try_lock().is_ok());
    let removed = own.parent().map_or(0, |root| sweep(root, own));
    if removed > 0 {
        tracing::info!(removed, "removed the spool folders of processes that died");
    }
    lock
}

/// Removes what dead processes left under `root` (never `own`): a folder whose lock nobody holds,
/// and anything else (a folder without a lock, a file of an older version) untouched for a day.
/// How many entries it removed.
pub fn sweep(root: &Path, own: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    let day_old = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > Duration::from_secs(86_400))
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path == own {
            continue;
        }
        let dead = if path.is_dir() {
            match File::open(path.join(LOCK)) {
                // Held by its process while it lives; free once it is gone.
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => day_old(&path),
            }
        } else {
            day_old(&path)
        };
        if !dead {
            continue;
        }
        let gone = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_folder_is_removed_and_a_live_one_kept() {
        let root = tempfile::tempdir().unwrap();
        let own = root.path().join("own");
        let _own_lock = open(&own);
        // A live process: its lock is held (by another open file description, as by another process).
        let live = root.path().join("live");
        std::fs::create_dir_all(&live).unwrap();
        let held = File::create(live.join(LOCK)).unwrap();
        held.lock().unwrap();
        std::fs::write(live.join("upload.json"), b"[]").unwrap();
        // A dead one: its lock file is there, nobody holds it; it left a 1 MB upload behind.
        let dead = root.path().join("dead");
        std::fs::create_dir_all(&dead).unwrap();
        File::create(dead.join(LOCK)).unwrap();
        std::fs::write(dead.join("upload.json"), vec![b' '; 1 << 20]).unwrap();
        // Young files of an older version (no lock): kept until a day old.
        std::fs::write(root.path().join(".tmpABC"), b"x").unwrap();

        assert_eq!(sweep(root.path(), &own), 1);
        assert!(!dead.exists());
        assert!(live.join("upload.json").exists());
        assert!(own.join(LOCK).exists(), "never its own");
        assert!(root.path().join(".tmpABC").exists());
        drop(held);
        assert_eq!(sweep(root.path(), &own), 1, "once its process is gone");
        assert!(!live.exists());
    }
}
