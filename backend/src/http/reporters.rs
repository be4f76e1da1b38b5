//! Who may send reports, and who may read them, on the reports port.
//!
//! **Reporter tokens** come from `REPORTS_TOKENS_PATH`: a file, or a directory of files (a
//! mounted Secret: every regular file whose name does not start with `.`, in name order). Each
//! non-empty line that is not a `#` comment is one reporter:
//!
//! ```text
//! # name            token                               repos (optional; * or absent = all)   options
//! rsyslog-checker   3c1f9a7e0b5d4c2a8f6e1d9b7a5c3e1f    rsyslog,rsyslog-*                      apps=argocd:rsyslog-*
//! nginx-checker     9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d    nginx-conf                             reports=50 bytes=2Mi
//! ```
//!
//! A repo entry ending in `*` is a prefix. A token used for a repo outside its list is refused
//! with 403 `REPO_NOT_ALLOWED`; a missing or unknown token with 401. Names appear in logs,
//! tokens never. Options, after the repos (`key=value`, any order):
//!
//! - `reports=N`, `bytes=N` (`Ki`/`Mi`/`Gi` suffixes): what this token's reports may hold, instead
//!   of `REPORTS_PER_TOKEN_MAX` / `REPORTS_PER_TOKEN_MAX_BYTES` (see [`crate::reports::Limits`]);
//! - `apps=<namespace-glob>:<name-glob>,…`: Applications this token may attach reports to
//!   without the app's consent (its `argocd-drift.io/report-repos` annotation listing the repo);
//!   `apps=*:*` is every app.
//!
//! A line that cannot be used is refused on its own (logged, counted by
//! `argocd_drift_report_token_lines_refused`); the other lines apply.
//!
//! **Read tokens** come from `REPORTS_READ_TOKENS_FILE` (one per line, `#` comments): when it is
//! set, `GET /status.json` needs one of them. Several lines let a token be rotated without a
//! gap (add the new one, switch Grafana, remove the old one).
//!
//! Both are re-read every `REPORTS_TOKENS_RELOAD_SECONDS`; a file that cannot be read is logged
//! and the tokens in use stay. `REPORTS_INSECURE_NO_AUTH=true` (the demo) accepts
//! reports without a token.

use super::error::ApiError;
use crate::config::{MIN_PROXY_TOKEN_LEN, Secret};
use drift_core::app::AppKey;
use drift_core::reports::links::ReportLink;
use drift_core::reports::model::ReportKey;
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

/// What one token's reports may hold, when its line says (otherwise the configured defaults).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenLimits {
    /// `reports=N`
    pub reports: Option<usize>,
    /// `bytes=N`, by [`Report::weight`](drift_core::reports::model::Report::weight).
    pub bytes: Option<usize>,
}

/// `<namespace-glob>:<name-glob>`: Applications a token may link reports to (`*` matches any
/// run of characters; `*:*` is every app).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppPattern {
    namespace: String,
    name: String,
}

impl AppPattern {
    pub fn parse(text: &str) -> Option<AppPattern> {
        let (namespace, name) = text.split_once(':')?;
        let ok = |part: &str, max: usize, extra: &str| {
            !part.is_empty()
                && part.len() <= max
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
        };
        let fits = ok(namespace, drift_core::names::MAX_LABEL_LEN, "-*")
            && ok(name, drift_core::names::MAX_SUBDOMAIN_LEN, "-.*");
        fits.then(|| AppPattern {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    pub fn matches(&self, app: &AppKey) -> bool {
        glob_matches(&self.namespace, &app.namespace) && glob_matches(&self.name, &app.name)
    }
}

/// `*` matches any run of characters (none included); everything else itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it has taken up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// One reporter: a name for logs, its token, its repos, its limits, the apps it may link to.
#[derive(Clone, PartialEq, Eq)]
pub struct Reporter {
    pub name: String,
    token: Secret,
    pub repos: RepoScope,
    pub limits: TokenLimits,
    /// `None`: no app without the app's consent.
    pub apps: Option<Vec<AppPattern>>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("name", &self.name)
            .field("repos", &self.repos)
            .field("limits", &self.limits)
            .field("apps", &self.apps)
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
            Identity::Reporter(r) => Err(ApiError::RepoNotAllowed {
                repo: repo.to_string(),
                reporter: r.name.clone(),
            }),
        }
    }

    /// For logs: the reporter's name.
    pub fn name(&self) -> &str {
        match self {
            Identity::Reporter(r) => &r.name,
            Identity::Anonymous => "anonymous",
        }
    }

    /// The reporter's name as stored with its reports (`None`: anonymous).
    pub fn reporter(&self) -> Option<&Reporter> {
        match self {
            Identity::Reporter(r) => Some(r),
            Identity::Anonymous => None,
        }
    }

    /// A 403 unless a report on `key` may name `app`: the app consents (its annotation lists the
    /// repo, `links`; `None` when the app is not known here), or this token's `apps` cover it.
    pub fn may_link(
        &self,
        app: &AppKey,
        key: &ReportKey,
        links: Option<&[ReportLink]>,
    ) -> Result<(), ApiError> {
        if links.is_some_and(|links| links.iter().any(|l| l.matches(key))) {
            return Ok(());
        }
        // Only `REPORTS_INSECURE_NO_AUTH` (the demo) lets a report in without a token, and then
        // anyone may report anything: there is no scope to hold it to.
        if matches!(self, Identity::Anonymous) {
            return Ok(());
        }
        let scoped = self
            .reporter()
            .and_then(|r| r.apps.as_ref())
            .is_some_and(|apps| apps.iter().any(|p| p.matches(app)));
        if scoped {
            return Ok(());
        }
        let why = match links {
            None => format!(
                "application {app} is not known to argocd-drift, and this token has no apps= entry for it"
            ),
            Some(_) => format!(
                "application {app} does not list repo {:?} in its argocd-drift.io/report-repos annotation, and this token has no apps= entry for it",
                key.repo
            ),
        };
        Err(ApiError::ApplicationNotAllowed(why))
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

/// What a token file holds: the reporters that can be used (with the file and line of each),
/// and the lines refused.
#[derive(Debug, Default)]
pub struct Parsed {
    pub reporters: Vec<Reporter>,
    pub lines: Vec<(PathBuf, usize)>,
    pub refused: Vec<TokenFileError>,
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
    /// Token lines refused in the last read (for the metric).
    refused_lines: std::sync::atomic::AtomicUsize,
}

impl ReporterAuth {
    /// Reads the configured files (errors stop start-up).
    pub fn load(
        tokens_path: Option<&Path>,
        read_tokens_file: Option<&Path>,
        insecure: bool,
    ) -> Result<ReporterAuth, TokenFileError> {
        let parsed = match tokens_path {
            Some(path) => read_reporters(path)?,
            None => Parsed::default(),
        };
        log_refused(&parsed.refused);
        let readers = read_tokens_file.map(read_read_tokens).transpose()?;
        Ok(ReporterAuth {
            reporters: RwLock::new(Arc::new(
                parsed.reporters.into_iter().map(Arc::new).collect(),
            )),
            readers: RwLock::new(readers.map(Arc::new)),
            insecure,
            tokens_path: tokens_path.map(Path::to_path_buf),
            read_tokens_file: read_tokens_file.map(Path::to_path_buf),
            last_reload_error: Mutex::new(None),
            refused_lines: parsed.refused.len().into(),
        })
    }

    /// Reporter lines refused in the last read of the token files.
    pub fn refused_lines(&self) -> usize {
        self.refused_lines
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fixed tokens, for tests.
    pub fn with_tokens(
        reporters: &str,
        readers: Option<&str>,
        insecure: bool,
    ) -> Result<Self, TokenFileError> {
        let mut parsed = parse_reporters(reporters, Path::new("<inline>"));
        dedupe(&mut parsed);
        if let Some(first) = parsed.refused.into_iter().next() {
            return Err(first);
        }
        let readers = readers
            .map(|text| parse_read_tokens(text, Path::new("<inline>")))
            .transpose()?;
        Ok(ReporterAuth {
            reporters: RwLock::new(Arc::new(
                parsed.reporters.into_iter().map(Arc::new).collect(),
            )),
            readers: RwLock::new(readers.map(Arc::new)),
            insecure,
            tokens_path: None,
            read_tokens_file: None,
            last_reload_error: Mutex::new(None),
            refused_lines: 0.into(),
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
                let parsed = read_reporters(path)?;
                self.refused_lines
                    .store(parsed.refused.len(), std::sync::atomic::Ordering::Relaxed);
                let new: Vec<Arc<Reporter>> = parsed.reporters.into_iter().map(Arc::new).collect();
                let mut current = self
                    .reporters
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if **current != new {
                    *current = Arc::new(new);
                    changed = true;
                    log_refused(&parsed.refused);
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
pub async fn reload_periodically(
    auth: Arc<ReporterAuth>,
    every: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // immediate; the files were just read
    metrics.set_token_lines_refused(auth.refused_lines());
    loop {
        ticks.tick().await;
        let reloading = Arc::clone(&auth);
        // Small files, but still disk IO: off the request threads.
        if let Err(error) = tokio::task::spawn_blocking(move || reloading.reload()).await {
            tracing::error!(%error, "report token reload panicked");
        }
        metrics.set_token_lines_refused(auth.refused_lines());
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

/// Every reporter line of the files at `path`; only a file that cannot be read is an error.
fn read_reporters(path: &Path) -> Result<Parsed, TokenFileError> {
    let mut all = Parsed::default();
    for (file, text) in files_of(path)? {
        let parsed = parse_reporters(&text, &file);
        all.reporters.extend(parsed.reporters);
        all.lines.extend(parsed.lines);
        all.refused.extend(parsed.refused);
    }
    dedupe(&mut all);
    Ok(all)
}

fn log_refused(refused: &[TokenFileError]) {
    for error in refused {
        tracing::warn!(error = %error, "refusing a reporter token line; the other lines apply");
    }
}

fn read_read_tokens(path: &Path) -> Result<Vec<Secret>, TokenFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_read_tokens(&text, path)
}

/// A name or a token listed twice: both lines are refused (which one was meant is unknown, and
/// a token must identify one reporter). The message names the lines, never a field: a line
/// written without its name has a token where the name should be.
fn dedupe(parsed: &mut Parsed) {
    let reporters = std::mem::take(&mut parsed.reporters);
    let lines = std::mem::take(&mut parsed.lines);
    let mut clash = vec![false; reporters.len()];
    let at = |i: usize| {
        lines.get(i).map_or_else(String::new, |(path, line)| {
            format!("{} line {line}", path.display())
        })
    };
    for (i, a) in reporters.iter().enumerate() {
        for (j, b) in reporters.iter().enumerate().skip(i + 1) {
            let what = if a.name == b.name {
                "name the same reporter"
            } else if a.token == b.token {
                "have the same token"
            } else {
                continue;
            };
            parsed.refused.push(TokenFileError::Duplicate(format!(
                "{} and {} {what}",
                at(i),
                at(j)
            )));
            clash[i] = true;
            clash[j] = true;
        }
    }
    for ((reporter, line), clash) in reporters.into_iter().zip(lines).zip(clash) {
        if !clash {
            parsed.reporters.push(reporter);
            parsed.lines.push(line);
        }
    }
}

fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Reporter lines: `<name> <token> [<repos>] [reports=N] [bytes=N] [apps=ns:glob,…]`. Each line
/// is taken or refused on its own.
pub fn parse_reporters(text: &str, path: &Path) -> Parsed {
    let mut parsed = Parsed::default();
    for (line, content) in content_lines(text) {
        match parse_reporter(content) {
            Ok(reporter) => {
                parsed.reporters.push(reporter);
                parsed.lines.push((path.to_path_buf(), line));
            }
            Err(problem) => parsed.refused.push(TokenFileError::Line {
                path: path.to_path_buf(),
                line,
                problem,
            }),
        }
    }
    parsed
}

/// One reporter line. The problem never quotes the token.
fn parse_reporter(content: &str) -> Result<Reporter, String> {
    const SHAPE: &str = "expected <name> <token> [<repo>,<repo>…] [reports=N] [bytes=N] [apps=<namespace-glob>:<name-glob>,…]";
    let mut fields = content.split_whitespace();
    let (Some(name), Some(token)) = (fields.next(), fields.next()) else {
        return Err(SHAPE.into());
    };
    if !drift_core::reports::resource::is_reporter_name(name) {
        return Err("the name must be at most 63 letters, digits, '-', '_' or '.'".into());
    }
    if token.len() < MIN_PROXY_TOKEN_LEN {
        return Err(format!(
            "the token (second field) is shorter than {MIN_PROXY_TOKEN_LEN} characters"
        ));
    }
    if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err("the token (second field) must be printable ASCII".into());
    }
    let mut repos = None;
    let mut limits = TokenLimits::default();
    let mut apps = None;
    for (position, field) in fields.enumerate() {
        let option = field
            .split_once('=')
            .filter(|(key, _)| matches!(*key, "reports" | "bytes" | "apps"));
        match option {
            Some((key, value)) => {
                let repeated = match key {
                    "reports" => limits
                        .reports
                        .replace(
                            value
                                .parse()
                                .map_err(|_| "reports= must be a whole number".to_string())?,
                        )
                        .is_some(),
                    "bytes" => limits
                        .bytes
                        .replace(parse_bytes(value).ok_or_else(|| {
                            "bytes= must be a size such as 4194304, 512Ki or 8Mi".to_string()
                        })?)
                        .is_some(),
                    _ => apps
                        .replace(
                            value
                                .split(',')
                                .map(AppPattern::parse)
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| {
                                    "apps= must be <namespace-glob>:<name-glob>,…".to_string()
                                })?,
                        )
                        .is_some(),
                };
                if repeated {
                    return Err(format!("{key}= is given twice"));
                }
            }
            None if position == 0 => repos = Some(parse_repos(field)?),
            None => return Err(SHAPE.into()),
        }
    }
    let token: Secret = token.parse().map_err(|_| "empty token".to_string())?;
    Ok(Reporter {
        name: name.to_string(),
        token,
        repos: repos.unwrap_or(RepoScope::All),
        limits,
        apps,
    })
}

fn parse_repos(list: &str) -> Result<RepoScope, String> {
    if list == "*" {
        return Ok(RepoScope::All);
    }
    let mut patterns = Vec::new();
    for entry in list.split(',') {
        if entry.is_empty() || entry.contains(':') {
            return Err(
                "repos must be a comma-separated list of repo names (a trailing * is a prefix)"
                    .into(),
            );
        }
        patterns.push(match entry.strip_suffix('*') {
            Some(prefix) => RepoPattern::Prefix(prefix.to_string()),
            None => RepoPattern::Exact(entry.to_string()),
        });
    }
    Ok(RepoScope::Only(patterns))
}

/// `4194304`, `512Ki`, `8Mi`, `1Gi`.
pub fn parse_bytes(text: &str) -> Option<usize> {
    text.parse::<crate::reports::ByteSize>().ok().map(|b| b.0)
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
            ("a", "expected <name> <token>"),
            ("a b c d", "shorter than 16"),
            (
                "a abcdefghijklmnopqrstuvwxyz x y",
                "expected <name> <token>",
            ),
            ("bad/name abcdefghijklmnopqrstuvwxyz", "the name must be"),
            ("a abcdefghijklmnopqrstuvwxyz x,,y", "comma-separated"),
            ("a abcdefghijklmnopqrstuvwxyz x:y", "comma-separated"),
            ("a abcdefghijklmnopqrstuvwxyz reports=many", "reports="),
            ("a abcdefghijklmnopqrstuvwxyz bytes=8MB", "bytes="),
            ("a abcdefghijklmnopqrstuvwxyz apps=argocd", "apps="),
            (
                "a abcdefghijklmnopqrstuvwxyz x reports=1 reports=2",
                "twice",
            ),
        ] {
            let parsed = parse_reporters(text, Path::new("tokens"));
            assert!(parsed.reporters.is_empty(), "{text}");
            let err = parsed.refused[0].to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.starts_with("tokens line 1"), "{err}");
            assert!(!err.contains("short-token") && !err.contains("abcdefghijklmnop"));
        }
        let mut dup = parse_reporters(
            "a abcdefghijklmnopqrstuvwxyz\nb abcdefghijklmnopqrstuvwxyz\nc cccccccccccccccccccc",
            Path::new("t"),
        );
        dedupe(&mut dup);
        let err = dup.refused[0].to_string();
        assert_eq!(err, "t line 1 and t line 2 have the same token");
        let names: Vec<&str> = dup.reporters.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c"], "both lines sharing a token are refused");
    }

    #[test]
    fn a_line_without_its_name_is_refused_without_quoting_the_token_in_its_place() {
        // Found by the token_file fuzz target: the name column held another line's token.
        let token = "3c1f9a7e0b5d4c2a8f6e1d9b7a5c3e1f";
        for text in [
            format!("{token} rsyslog"),
            format!("{token} bytes=8Mi"),
            format!("{token} {token}x\n{token} {token}y"),
        ] {
            let mut parsed = parse_reporters(&text, Path::new("t"));
            dedupe(&mut parsed);
            assert!(!parsed.refused.is_empty(), "{text}");
            for error in &parsed.refused {
                assert!(!error.to_string().contains(token), "{error}");
            }
        }
    }

    #[test]
    fn options_set_limits_and_app_scopes() {
        let parsed = parse_reporters(
            "edge edge-token-0123456789 edge-* reports=50 bytes=2Mi apps=argocd:edge-*,team-a:web\n\
             all all-token-0123456789ab bytes=1024",
            Path::new("t"),
        );
        assert!(parsed.refused.is_empty(), "{:?}", parsed.refused);
        let edge = &parsed.reporters[0];
        assert_eq!(
            edge.limits,
            TokenLimits {
                reports: Some(50),
                bytes: Some(2 << 20)
            }
        );
        let apps = edge.apps.as_ref().unwrap();
        assert!(apps[0].matches(&AppKey::new("argocd", "edge-eu")));
        assert!(!apps[0].matches(&AppKey::new("argocd", "payments")));
        assert!(!apps[0].matches(&AppKey::new("team-a", "edge-eu")));
        assert!(apps[1].matches(&AppKey::new("team-a", "web")));
        let all = &parsed.reporters[1];
        assert_eq!(all.repos, RepoScope::All);
        assert_eq!(all.limits.bytes, Some(1024));
        assert_eq!(all.apps, None);
    }

    #[test]
    fn globs_match_runs_of_characters() {
        for (pattern, text, expected) in [
            ("edge-*", "edge-eu", true),
            ("edge-*", "edge-", true),
            ("edge-*", "edg", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("web", "web", true),
            ("web", "web2", false),
            ("*-eu", "edge-eu", true),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn linking_an_app_needs_its_consent_or_an_app_scope() {
        let auth = ReporterAuth::with_tokens(
            "edge edge-token-0123456789 edge-* apps=argocd:edge-*\nfleet fleet-token-0123456789ab",
            None,
            false,
        )
        .unwrap();
        let edge = auth
            .identify(&with_bearer("edge-token-0123456789"))
            .unwrap();
        let fleet = auth
            .identify(&with_bearer("fleet-token-0123456789ab"))
            .unwrap();
        let key = ReportKey::new("edge-router", "r1");
        let payments = AppKey::new("argocd", "payments");
        let edge_eu = AppKey::new("argocd", "edge-eu");
        let consent = [ReportLink {
            repo: "edge-router".into(),
            server: None,
        }];
        assert!(
            edge.may_link(&edge_eu, &key, Some(&[])).is_ok(),
            "app scope"
        );
        assert!(edge.may_link(&edge_eu, &key, None).is_ok(), "app scope");
        let refused = edge.may_link(&payments, &key, Some(&[])).unwrap_err();
        assert_eq!(refused.code(), "APPLICATION_NOT_ALLOWED");
        assert!(refused.to_string().contains("report-repos"), "{refused}");
        assert!(
            edge.may_link(&payments, &key, Some(&consent)).is_ok(),
            "consent"
        );
        assert_eq!(
            fleet.may_link(&payments, &key, None).unwrap_err().code(),
            "APPLICATION_NOT_ALLOWED"
        );
        assert!(fleet.may_link(&payments, &key, Some(&consent)).is_ok());
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
            1,
            "a broken line is refused on its own; the others apply"
        );
        assert_eq!(auth.refused_lines(), 1);
        assert_eq!(
            auth.identify(&with_bearer("bbbbbbbbbbbbbbbbbbbb"))
                .unwrap_err()
                .code(),
            "INVALID_CREDENTIALS",
            "a token whose line broke stops working"
        );
        std::fs::write(dir.path().join("b"), "b bbbbbbbbbbbbbbbbbbbb\nbroken\n").unwrap();
        auth.reload();
        assert_eq!(auth.reporter_count(), 2);
        assert_eq!(auth.refused_lines(), 1);
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
