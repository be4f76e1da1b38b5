//! The local Git repository the real Argo CD syncs from (`real-argocd.sh start --control-plane`
//! creates it and serves it with `git daemon`): a working copy whose `origin` is the served bare
//! repository. Tests move the desired state by committing and pushing here.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// One change of a commit.
#[derive(Clone, Debug)]
pub enum Change {
    /// Write `contents` to the path (relative to the repository root), creating directories.
    Write(String, String),
    /// Delete the file at the path.
    Remove(String),
}

/// A working copy; clones share one lock, so concurrent scenarios commit one at a time.
#[derive(Clone, Debug)]
pub struct GitRepo {
    worktree: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl GitRepo {
    pub fn open(worktree: impl Into<PathBuf>) -> anyhow::Result<GitRepo> {
        let worktree = worktree.into();
        anyhow::ensure!(
            worktree.join(".git").is_dir(),
            "{} is not a Git working copy",
            worktree.display()
        );
        Ok(GitRepo {
            worktree,
            lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn worktree(&self) -> &Path {
        &self.worktree
    }

    /// Applies the changes, commits them with `message`, pushes to `origin main` and returns
    /// the new commit's SHA.
    pub async fn commit(&self, message: &str, changes: Vec<Change>) -> anyhow::Result<String> {
        let repo = self.clone();
        let message = message.to_string();
        tokio::task::spawn_blocking(move || repo.commit_blocking(&message, &changes))
            .await
            .context("the git task panicked")?
    }

    fn commit_blocking(&self, message: &str, changes: &[Change]) -> anyhow::Result<String> {
        // A poisoned lock only means another commit failed; the working copy is still usable.
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for change in changes {
            match change {
                Change::Write(path, contents) => {
                    let file = self.worktree.join(path);
                    if let Some(dir) = file.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                    std::fs::write(&file, contents)
                        .with_context(|| format!("writing {}", file.display()))?;
                }
                Change::Remove(path) => {
                    let file = self.worktree.join(path);
                    std::fs::remove_file(&file)
                        .with_context(|| format!("removing {}", file.display()))?;
                }
            }
        }
        self.git(&["add", "-A"])?;
        self.git(&["commit", "-q", "-m", message])?;
        self.git(&["push", "-q", "origin", "HEAD:main"])?;
        Ok(self.git(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.worktree)
            .args(args)
            .output()
            .context("running git")?;
        if !out.status.success() {
            bail!(
                "git {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
