//! The tests' one kind of temporary directory: a fresh directory under the
//! system's temporary directory, named by a tag, the process and a counter
//! (so tests running at once never share one), removed with everything in
//! it when dropped, however the test ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory removed (with its contents) on drop.
pub struct Scratch {
    dir: PathBuf,
    /// Tests that start processes time them: no simulation runs meanwhile.
    _cpu: super::Shared<'static>,
}

impl Scratch {
    /// Creates `wk-<tag>-<pid>-<n>` in the temporary directory. Keep tags
    /// short: Unix socket paths in it are limited to 107 bytes.
    pub fn new(tag: &str) -> Scratch {
        let cpu = super::shared();
        let dir = std::env::temp_dir().join(format!(
            "wk-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
        Scratch { dir, _cpu: cpu }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `name` inside (nothing is created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `text` to `name` inside; its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
