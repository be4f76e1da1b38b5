//! Who may send reports, and who may read them, on the reports port.
//!
//! **Reporter tokens** come from `REPORTS_TOKENS_PATH`: a file, or a directory of files (a
//! mounted Secret: every regular file whose name does not start with `.`, in name order). Each
//! non-empty line that is not a `#` comment is one reporter:
//!
//! ```text
//! # name            token                               repos (optional; * or absent = all)
//! rsyslog-checker   3c1f9a7e0b5d4c2a8f6e1d9b7a5c3e1f    rsyslog,rsyslog-*
//! nginx-checker     9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d    nginx-conf
//! ```
//!
//! A repo entry ending in `*` is a prefix. A token used for a repo outside its list is refused
//! with 403 `REPO_NOT_ALLOWED`; a missing or unknown token with 401. Names appear in logs,
//! tokens never.
//!
//! **Read tokens** come from `REPORTS_READ_TOKENS_FILE` (one per line, `#` comments): when it is
//! set, `GET /status.json` needs one of them. Several lines let a token be rotated without a
//! gap (add the new one, switch Grafana, remove the old one).
//!
//! Both are re-read every `REPORTS_TOKENS_RELOAD_SECONDS`; a file that cannot be read or parsed
//! is logged and the tokens in use stay. `REPORTS_INSECURE_NO_AUTH=true` (the demo) accepts
//! reports without a token.

use super::error::ApiError;
use crate::config::{MIN_PROXY_TOKEN_LEN, Secret};
use http::{HeaderMap, header};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The repos a reporter may report on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoScope {
    All,
    Only(Vec<RepoPattern>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoPattern {
    Exact(String),
    Prefix(String),
}

impl RepoScope {
    pub fn allows(&self, repo: &str) -> bool {
        match self {
            RepoScope::All => true,
            RepoScope::Only(patterns) => patterns.iter().any(|p| match p {
                RepoPattern::Exact(r) => r == repo,
                RepoPattern::Prefix(prefix) => repo.starts_with(prefix.as_str()),
            }),
        }
    }
}

/// One reporter: a name for logs, its token, its repos.
#[derive(Clone, PartialEq, Eq)]
pub struct Reporter {
    pub name: String,
    token: Secret,
    pub repos: RepoScope,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("name", &self.name)
            .field("repos", &self.repos)
            .finish_non_exhaustive()
    }
}

/// Who sent a report.
#[derive(Clone, Debug)]
pub enum Identity {
    Reporter(Arc<Reporter>),
    /// No token, accepted because of `REPORTS_INSECURE_NO_AUTH`.
    Anonymous,
}

impl Identity {
    /// A 403 unless this identity may report on `repo`.
    pub fn may_report(&self, repo: &str) -> Result<(), ApiError> {
        match self {
            Identity::Anonymous => Ok(()),
            Identity::Reporter(r) if r.repos.allows(repo) => Ok(()),
            Identity::Reporter(_) => Err(ApiError::RepoNotAllowed(repo.to_string())),
        }
    }

    /// For logs: the reporter's name.
    pub fn name(&self) -> &str {
        match self {
            Identity::Reporter(r) => &r.name,
            Identity::Anonymous => "anonymous",
        }
    }
}

/// Why a token file cannot be used. Never quotes a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {problem}")]
    Line {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("{0}")]
    Duplicate(String),
}

/// The tokens in use. Cheap to share.
pub struct ReporterAuth {
    reporters: RwLock<Arc<Vec<Arc<Reporter>>>>,
    /// `None`: reads are open.
    readers: RwLock<Option<Arc<Vec<Secret>>>>,
    insecure: bool,
    tokens_path: Option<PathBuf>,
    read_tokens_file: Option<PathBuf>,
    last_reload_error: Mutex<Option<String>>,
}

impl ReporterAuth {
    /// Reads the configured files (errors stop start-up).
    pub fn load(
        tokens_path: Option<&Path>,
        read_tokens_file: Option<&Path>,
        insecure: bool,
    ) -> Result<ReporterAuth, TokenFileError> {
        let reporters = match tokens_path {
            Some(path) => read_reporters(path)?,
            None => Vec::new(),
        };
        let readers = read_tokens_file.map(read_read_tokens).transpose()?;
        Ok(ReporterAuth {
            reporters: RwLock::new(Arc::new(reporters.into_iter().map(Arc::new).collect())),
            readers: RwLock::new(readers.map(Arc::new)),
            insecure,
            tokens_path: tokens_path.map(Path::to_path_buf),
            read_tokens_file: read_tokens_file.map(Path::to_path_buf),
            last_reload_error: Mutex::new(None),
        })
    }

    /// Fixed tokens, for tests.
    pub fn with_tokens(
        reporters: &str,
        readers: Option<&str>,
        insecure: bool,
    ) -> Result<Self, TokenFileError> {
        let reporters = parse_reporters(reporters, Path::new("<inline>"))?;
        let readers = readers
            .map(|text| parse_read_tokens(text, Path::new("<inline>")))
            .transpose()?;
        Ok(ReporterAuth {
            reporters: RwLock::new(Arc::new(reporters.into_iter().map(Arc::new).collect())),
            readers: RwLock::new(readers.map(Arc::new)),
            insecure,
            tokens_path: None,
            read_tokens_file: None,
            last_reload_error: Mutex::new(None),
        })
    }

    pub fn reporter_count(&self) -> usize {
        read(&self.reporters).len()
    }

    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    pub fn reads_protected(&self) -> bool {
        read(&self.readers).is_some()
    }

    /// Who sends this report: 401 without an accepted token (unless insecure).
    pub fn identify(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let presented = match bearer(headers) {
            Ok(token) => token,
            Err(_) if self.insecure => return Ok(Identity::Anonymous),
            Err(error) => return Err(error),
        };
        let reporters = Arc::clone(&read(&self.reporters));
        // Compare with every token (no early exit): the time does not depend on which matched.
        let mut found = None;
        for reporter in reporters.iter() {
            let matches = bool::from(presented.ct_eq(reporter.token.expose().as_bytes()));
            found = found.or(matches.then(|| Arc::clone(reporter)));
        }
        match found {
            Some(reporter) => Ok(Identity::Reporter(reporter)),
            None if self.insecure => Ok(Identity::Anonymous),
            None => Err(ApiError::InvalidReporterCredentials),
        }
    }

    /// A read of the reports: open unless read tokens are configured.
    pub fn check_read(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(readers) = read(&self.readers).clone() else {
            return Ok(());
        };
        let presented = bearer(headers)?;
        let mut matched = false;
        for token in readers.iter() {
            matched |= bool::from(presented.ct_eq(token.expose().as_bytes()));
        }
        if matched {
            Ok(())
        } else {
            Err(ApiError::InvalidReporterCredentials)
        }
    }

    /// Re-reads the files; keeps what is in use if they cannot be read.
    pub fn reload(&self) {
        let result = (|| -> Result<bool, TokenFileError> {
            let mut changed = false;
            if let Some(path) = &self.tokens_path {
                let new: Vec<Arc<Reporter>> =
                    read_reporters(path)?.into_iter().map(Arc::new).collect();
                let mut current = self
                    .reporters
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if **current != new {
                    *current = Arc::new(new);
                    changed = true;
                }
            }
            if let Some(path) = &self.read_tokens_file {
                let new = read_read_tokens(path)?;
                let mut current = self
                    .readers
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if current.as_deref() != Some(&new) {
                    *current = Some(Arc::new(new));
                    changed = true;
                }
            }
            Ok(changed)
        })();
        let mut last = self
            .last_reload_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Ok(changed) => {
                *last = None;
                if changed {
                    let names: Vec<String> = read(&self.reporters)
                        .iter()
                        .map(|r| r.name.clone())
                        .collect();
                    tracing::info!(reporters = ?names, "report tokens reloaded");
                }
            }
            Err(error) => {
                let text = error.to_string();
                if last.as_deref() != Some(&text) {
                    tracing::warn!(error = %text, "cannot reload report tokens; keeping the tokens in use");
                    *last = Some(text);
                }
            }
        }
    }
}

/// Re-reads the token files every `every` until the task is dropped.
pub async fn reload_periodically(auth: Arc<ReporterAuth>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // immediate; the files were just read
    loop {
        ticks.tick().await;
        let auth = Arc::clone(&auth);
        // Small files, but still disk IO: off the request threads.
        if let Err(error) = tokio::task::spawn_blocking(move || auth.reload()).await {
            tracing::error!(%error, "report token reload panicked");
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The token of `Authorization: Bearer <token>` (one header, scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Result<&[u8], ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(ApiError::MissingReporterCredentials)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidReporterCredentials);
    }
    let (scheme, token) = value
        .as_bytes()
        .split_at_checked(7)
        .ok_or(ApiError::InvalidReporterCredentials)?;
    if scheme.eq_ignore_ascii_case(b"bearer ") && !token.is_empty() {
        Ok(token)
    } else {
        Err(ApiError::InvalidReporterCredentials)
    }
}

/// The files of a path: itself, or the visible regular files of a directory in name order.
fn files_of(path: &Path) -> Result<Vec<(PathBuf, String)>, TokenFileError> {
    let read_err = |path: &Path, source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(|e| read_err(path, e))?;
    if !meta.is_dir() {
        let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
        return Ok(vec![(path.to_path_buf(), text)]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| read_err(path, e))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| read_err(&p, e))?;
            Ok((p, text))
        })
        .collect()
}

fn read_reporters(path: &Path) -> Result<Vec<Reporter>, TokenFileError> {
    let mut all: Vec<Reporter> = Vec::new();
    for (file, text) in files_of(path)? {
        all.extend(parse_reporters(&text, &file)?);
    }
    check_unique(&all)?;
    Ok(all)
}

fn read_read_tokens(path: &Path) -> Result<Vec<Secret>, TokenFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_read_tokens(&text, path)
}

fn check_unique(reporters: &[Reporter]) -> Result<(), TokenFileError> {
    for (i, a) in reporters.iter().enumerate() {
        for b in &reporters[i + 1..] {
            if a.name == b.name {
                return Err(TokenFileError::Duplicate(format!(
                    "reporter {:?} is listed twice",
                    a.name
                )));
            }
            if a.token == b.token {
                return Err(TokenFileError::Duplicate(format!(
                    "reporters {:?} and {:?} have the same token",
                    a.name, b.name
                )));
            }
        }
    }
    Ok(())
}

fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Reporter lines: `<name> <token> [<repos>]`.
pub fn parse_reporters(text: &str, path: &Path) -> Result<Vec<Reporter>, TokenFileError> {
    let mut reporters = Vec::new();
    for (line, content) in content_lines(text) {
        let problem = |problem: &str| TokenFileError::Line {
            path: path.to_path_buf(),
            line,
            problem: problem.to_string(),
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        let (name, token, repos) = match fields[..] {
            [name, token] => (name, token, None),
            [name, token, repos] => (name, token, Some(repos)),
            _ => return Err(problem("expected <name> <token> [<repo>,<repo>…]")),
        };
        let name_ok = name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(problem(
                "the name must be at most 63 letters, digits, '-', '_' or '.'",
            ));
        }
        if token.len() < MIN_PROXY_TOKEN_LEN {
            return Err(problem(&format!(
                "the token of {name} is shorter than {MIN_PROXY_TOKEN_LEN} characters"
            )));
        }
        let repos = match repos {
            None | Some("*") => RepoScope::All,
            Some(list) => {
                let mut patterns = Vec::new();
                for entry in list.split(',') {
                    if entry.is_empty() || entry.contains(':') {
                        return Err(problem(
                            "repos must be a comma-separated list of repo names (a trailing * is a prefix)",
                        ));
                    }
                    patterns.push(match entry.strip_suffix('*') {
                        Some(prefix) => RepoPattern::Prefix(prefix.to_string()),
                        None => RepoPattern::Exact(entry.to_string()),
                    });
                }
                RepoScope::Only(patterns)
            }
        };
        let token: Secret = token.parse().map_err(|_| problem("empty token"))?;
        reporters.push(Reporter {
            name: name.to_string(),
            token,
            repos,
        });
    }
    Ok(reporters)
}

/// Read-token lines: one token each.
pub fn parse_read_tokens(text: &str, path: &Path) -> Result<Vec<Secret>, TokenFileError> {
    let mut tokens = Vec::new();
    for (line, content) in content_lines(text) {
        let problem = |problem: String| TokenFileError::Line {
            path: path.to_path_buf(),
            line,
            problem,
        };
        if content.split_whitespace().count() != 1 {
            return Err(problem("expected one token per line".into()));
        }
        if content.len() < MIN_PROXY_TOKEN_LEN {
            return Err(problem(format!(
                "the token is shorter than {MIN_PROXY_TOKEN_LEN} characters"
            )));
        }
        tokens.push(content.parse().map_err(|_| problem("empty token".into()))?);
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Line {
            path: path.to_path_buf(),
            line: 0,
            problem: "no token".into(),
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const FILE: &str = "\
# reporters
rsyslog-checker  rsyslog-token-0123456789  rsyslog,rsyslog-*
fleet            fleet-token-0123456789ab
";

    fn auth(readers: Option<&str>, insecure: bool) -> ReporterAuth {
        ReporterAuth::with_tokens(FILE, readers, insecure).unwrap()
    }

    fn with_bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_token_identifies_its_reporter_and_its_repos() {
        let auth = auth(None, false);
        let id = auth
            .identify(&with_bearer("rsyslog-token-0123456789"))
            .unwrap();
        assert_eq!(id.name(), "rsyslog-checker");
        assert!(id.may_report("rsyslog").is_ok());
        assert!(id.may_report("rsyslog-lab").is_ok());
        let refused = id.may_report("nginx").unwrap_err();
        assert_eq!(refused.code(), "REPO_NOT_ALLOWED");
        let fleet = auth
            .identify(&with_bearer("fleet-token-0123456789ab"))
            .unwrap();
        assert!(fleet.may_report("anything").is_ok());
    }

    #[test]
    fn no_or_a_wrong_token_is_refused_unless_insecure() {
        let strict = auth(None, false);
        assert_eq!(
            strict.identify(&HeaderMap::new()).unwrap_err().code(),
            "MISSING_CREDENTIALS"
        );
        assert_eq!(
            strict
                .identify(&with_bearer("rsyslog-token-01234567"))
                .unwrap_err()
                .code(),
            "INVALID_CREDENTIALS"
        );
        let insecure = auth(None, true);
        assert!(matches!(
            insecure.identify(&HeaderMap::new()).unwrap(),
            Identity::Anonymous
        ));
        // A valid token still limits what it may report, even in insecure mode.
        let limited = insecure
            .identify(&with_bearer("rsyslog-token-0123456789"))
            .unwrap();
        assert!(limited.may_report("nginx").is_err());
    }

    #[test]
    fn reads_are_open_until_read_tokens_are_configured() {
        assert!(auth(None, false).check_read(&HeaderMap::new()).is_ok());
        let guarded = auth(
            Some("# grafana\ngrafana-read-0123456789\nnext-read-token-0123456\n"),
            false,
        );
        assert_eq!(
            guarded.check_read(&HeaderMap::new()).unwrap_err().code(),
            "MISSING_CREDENTIALS"
        );
        assert!(
            guarded
                .check_read(&with_bearer("next-read-token-0123456"))
                .is_ok()
        );
        assert!(
            guarded
                .check_read(&with_bearer("grafana-read-0123456789"))
                .is_ok()
        );
        assert_eq!(
            guarded
                .check_read(&with_bearer("rsyslog-token-0123456789"))
                .unwrap_err()
                .code(),
            "INVALID_CREDENTIALS",
            "a reporter token is not a read token"
        );
    }

    #[test]
    fn bad_lines_are_refused_without_quoting_the_token() {
        for (text, needle) in [
            ("a short-token", "shorter than 16"),
            ("a b c d", "expected <name> <token>"),
            ("bad/name abcdefghijklmnopqrstuvwxyz", "the name must be"),
            ("a abcdefghijklmnopqrstuvwxyz x,,y", "comma-separated"),
            ("a abcdefghijklmnopqrstuvwxyz x:y", "comma-separated"),
        ] {
            let err = parse_reporters(text, Path::new("tokens"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.starts_with("tokens line 1"), "{err}");
            assert!(!err.contains("short-token") && !err.contains("abcdefghijklmnop"));
        }
        let dup = "a abcdefghijklmnopqrstuvwxyz\nb abcdefghijklmnopqrstuvwxyz";
        let err = check_unique(&parse_reporters(dup, Path::new("t")).unwrap()).unwrap_err();
        assert!(err.to_string().contains("same token"));
        assert!(!err.to_string().contains("abcdefghij"));
    }

    #[test]
    fn a_directory_is_read_file_by_file_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a aaaaaaaaaaaaaaaaaaaa rsyslog\n").unwrap();
        std::fs::create_dir(dir.path().join("..data")).unwrap();
        std::fs::write(dir.path().join(".hidden"), "garbage").unwrap();
        let auth = ReporterAuth::load(Some(dir.path()), None, false).unwrap();
        assert_eq!(auth.reporter_count(), 1);
        std::fs::write(dir.path().join("b"), "b bbbbbbbbbbbbbbbbbbbb\n").unwrap();
        auth.reload();
        assert_eq!(auth.reporter_count(), 2);
        assert!(auth.identify(&with_bearer("bbbbbbbbbbbbbbbbbbbb")).is_ok());
        std::fs::write(dir.path().join("b"), "broken").unwrap();
        auth.reload();
        assert_eq!(
            auth.reporter_count(),
            2,
            "a broken file keeps the tokens in use"
        );
        std::fs::remove_file(dir.path().join("b")).unwrap();
        auth.reload();
        assert_eq!(
            auth.identify(&with_bearer("bbbbbbbbbbbbbbbbbbbb"))
                .unwrap_err()
                .code(),
            "INVALID_CREDENTIALS",
            "a removed token stops working"
        );
    }
}
