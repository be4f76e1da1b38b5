//! The shared secret Argo CD presents, and its rotation.
//!
//! With `PROXY_TOKEN_FILE` (a mounted Secret), the file is re-read every
//! `PROXY_TOKEN_RELOAD_SECONDS`. Argo CD reloads its extension config on its own, and kubelet
//! updates mounted Secrets with a delay, so for `PROXY_TOKEN_ROTATION_GRACE_SECONDS` after a
//! change the previous token is still accepted: a rotation needs no downtime and no restart.

use crate::config::{MIN_PROXY_TOKEN_LEN, Secret};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

/// The tokens accepted now.
pub struct Credentials {
    tokens: RwLock<Tokens>,
}

struct Tokens {
    current: Secret,
    /// The token before the last rotation, and until when it is still accepted.
    previous: Option<(Secret, Instant)>,
}

impl Credentials {
    pub fn new(token: Secret) -> Self {
        Credentials {
            tokens: RwLock::new(Tokens {
                current: token,
                previous: None,
            }),
        }
    }

    /// Whether `presented` is the current token, or the previous one within its grace period.
    /// Constant time in the tokens' content (only their lengths can leak).
    pub fn matches(&self, presented: &[u8]) -> bool {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = bool::from(presented.ct_eq(tokens.current.expose().as_bytes()));
        let previous = tokens.previous.as_ref().is_some_and(|(token, until)| {
            bool::from(presented.ct_eq(token.expose().as_bytes())) && Instant::now() < *until
        });
        current | previous
    }

    /// Makes `token` current, keeping the old one for `grace`. Returns false if it was already
    /// current.
    pub fn rotate(&self, token: Secret, grace: Duration) -> bool {
        let mut tokens = self
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tokens.current == token {
            return false;
        }
        let old = std::mem::replace(&mut tokens.current, token);
        tokens.previous = (!grace.is_zero()).then(|| (old, Instant::now() + grace));
        true
    }
}

/// Re-reads the token file every `every` and rotates to what it holds. A file that cannot be
/// read or holds too short a token is logged and ignored: the current token stays.
pub async fn reload_from_file(
    path: PathBuf,
    credentials: Arc<Credentials>,
    every: Duration,
    grace: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; the file was just read at start-up
    loop {
        ticks.tick().await;
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot re-read PROXY_TOKEN_FILE; keeping the current token");
                continue;
            }
        };
        let token = text.trim();
        if token.len() < MIN_PROXY_TOKEN_LEN {
            tracing::warn!(path = %path.display(), "PROXY_TOKEN_FILE now holds a token shorter than {MIN_PROXY_TOKEN_LEN} characters; keeping the current token");
            continue;
        }
        let Ok(token) = token.parse::<Secret>() else {
            continue;
        };
        if credentials.rotate(token, grace) {
            tracing::info!(
                grace_s = grace.as_secs(),
                "proxy token rotated from PROXY_TOKEN_FILE; the previous one is accepted during the grace period"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_previous_token_works_only_during_the_grace_period() {
        let creds = Credentials::new(secret("token-a-0123456789"));
        assert!(creds.matches(b"token-a-0123456789"));
        assert!(creds.rotate(secret("token-b-0123456789"), Duration::from_secs(60)));
        assert!(creds.matches(b"token-b-0123456789"));
        assert!(creds.matches(b"token-a-0123456789"), "grace period");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!creds.matches(b"token-a-0123456789"), "grace over");
        assert!(creds.matches(b"token-b-0123456789"));
    }

    #[tokio::test]
    async fn no_grace_means_the_old_token_stops_at_once_and_same_token_is_no_rotation() {
        let creds = Credentials::new(secret("token-a-0123456789"));
        assert!(!creds.rotate(secret("token-a-0123456789"), Duration::ZERO));
        assert!(creds.rotate(secret("token-b-0123456789"), Duration::ZERO));
        assert!(!creds.matches(b"token-a-0123456789"));
        assert!(!creds.matches(b"token-a"), "prefixes never match");
    }

    #[tokio::test(start_paused = true)]
    async fn the_file_is_re_read_and_bad_contents_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "token-a-0123456789\n").unwrap();
        let creds = Arc::new(Credentials::new(secret("token-a-0123456789")));
        let task = tokio::spawn(reload_from_file(
            path.clone(),
            Arc::clone(&creds),
            Duration::from_secs(10),
            Duration::ZERO,
        ));
        std::fs::write(&path, "short").unwrap();
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert!(
            creds.matches(b"token-a-0123456789"),
            "a too-short token is ignored"
        );
        std::fs::write(&path, "token-b-0123456789\n").unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(creds.matches(b"token-b-0123456789"));
        assert!(!creds.matches(b"token-a-0123456789"));
        task.abort();
    }
}
