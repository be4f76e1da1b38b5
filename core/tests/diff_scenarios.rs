//! The differential test: the drift engine against Argo CD's own diff code on every scenario of
//! `fixtures/diff-scenarios/` (answers computed by the oracle, `make diff-answers`, committed) and
//! on generated scenarios answered by the oracle in the same run (`make test-oracle`).
//!
//! Every disagreement fails unless the scenario documents it as deliberate (`deliberate:` with
//! the reason and the engine's cause) or it is listed in [`KNOWN_DISAGREEMENTS`] /
//! [`KNOWN_PENDING_GENERATED_ITEMS`]: issue 16's items that are being fixed. Those lists may only
//! shrink: a listed scenario that agrees fails too, so its entry is deleted with the fix.
//! How a verdict is judged: `diff/judge.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

#[path = "diff/generator.rs"]
mod generator;
#[path = "diff/judge.rs"]
mod judge;

use drift_core::drift::jq::JqCache;
use judge::{Deliberate, Outcome, Source, cause_name, judge, run_engine};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Hand-written scenarios the engine does not agree on yet: scenario (with `@argocd` when the
/// engine is given Argo CD's managed-resources item) → issue 16 section 2 item. Delete an entry
/// when its item is fixed; the test fails while a listed scenario agrees.
const KNOWN_DISAGREEMENTS: &[(&str, u8)] = &[];

/// Items whose generated scenarios may still disagree: a generated scenario that disagrees is
/// accepted when it exercises one of these (the generator tags each scenario with the items its
/// features touch). Delete an item when it is fixed; the test fails when no generated scenario of
/// a listed item disagrees any more.
///
/// What remains are deliberate differences (README, drift section), which a generated scenario
/// cannot be marked with:
/// - the attribution modes: with no record of Argo CD's (a person's `kubectl apply` rewrote it:
///   item 2; server-side applied: items 9 and 16) the engine lists the fields other managers
///   wrote, and a field re-set to the value Git has, or an addition, looks like one taken from
///   Argo CD. The verdict agrees; paths may not.
/// - duplicate merge keys (item 10): Argo CD's patch matches every item with a key to the first
///   live item with it; the engine pairs items by their whole key and names the one that changed.
const KNOWN_PENDING_GENERATED_ITEMS: &[u8] = &[2, 9, 10, 16];

/// How many generated scenarios a run checks (seeds 1..=N, then the regressions file's).
const GENERATED: u64 = 200;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/diff-scenarios")
}

/// One scenario with Argo CD's answer.
struct Case {
    name: String,
    scenario: Value,
    answer: Value,
    items: Vec<u8>,
}

fn items_of(s: &Value) -> Vec<u8> {
    match &s["item"] {
        Value::Number(n) => vec![n.as_u64().unwrap_or(0) as u8],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_u64)
            .map(|n| n as u8)
            .collect(),
        _ => vec![],
    }
}

/// The Argo CD version the repository pins (the oracle's and the real tests' argocd).
fn pinned_argocd() -> String {
    let gomod = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testenv/go/argocd/go.mod"),
    )
    .unwrap();
    gomod
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("github.com/argoproj/argo-cd/v3"))
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .expect("go.mod requires github.com/argoproj/argo-cd/v3")
}

/// The hand-written corpus; every problem with it (an answer missing, stale, of another Argo CD
/// version) in one message.
fn hand_written() -> Vec<Case> {
    let dir = corpus_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    names.sort();
    let pinned = pinned_argocd();
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    for name in names {
        let raw = std::fs::read(dir.join(format!("{name}.yaml"))).unwrap();
        let scenario: Value = match serde_saphyr::from_slice(&raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}.yaml: {e}"));
                continue;
            }
        };
        let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.argocd.json"))) else {
            problems.push(format!("{name}: no answer (make diff-answers ONLY={name})"));
            continue;
        };
        let answer: Value = serde_json::from_str(&text).unwrap();
        let sum = hex(&Sha256::digest(&raw));
        if answer["scenarioSha256"].as_str() != Some(sum.as_str()) {
            problems.push(format!(
                "{name}: the answer is older than the scenario (make diff-answers ONLY={name})"
            ));
        }
        if answer["argocd"].as_str() != Some(pinned.as_str()) {
            problems.push(format!(
                "{name}: answered by Argo CD {}, the repository pins {pinned} (make diff-answers)",
                answer["argocd"]
            ));
        }
        cases.push(Case {
            items: items_of(&scenario),
            name,
            scenario,
            answer,
        });
    }
    // An answer whose scenario is gone.
    for e in std::fs::read_dir(&dir).unwrap() {
        let n = e.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = n.strip_suffix(".argocd.json")
            && !dir.join(format!("{stem}.yaml")).exists()
        {
            problems.push(format!("{n}: its scenario {stem}.yaml is gone"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    cases
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Default)]
struct Tally {
    runs: usize,
    agree: usize,
    declined: usize,
    deliberate: usize,
    known: usize,
    failures: Vec<String>,
    /// Items with a generated scenario that disagreed (and was accepted as pending).
    pending_seen: BTreeSet<u8>,
}

impl Tally {
    fn summary(&self, what: &str, scenarios: usize) -> String {
        format!(
            "{what}: {scenarios} scenarios, {} engine runs (local source and Argo CD source): {} agree, {} declined (nothing local to compare), {} deliberate, {} known-pending, {} failing",
            self.runs,
            self.agree,
            self.declined,
            self.deliberate,
            self.known,
            self.failures.len()
        )
    }
}

/// Judges every case in both sources. `pending` decides whether a disagreement is listed.
fn check(cases: &[Case], pending: &dyn Fn(&Case, Source) -> Option<u8>, tally: &mut Tally) {
    let jq = JqCache::new();
    for case in cases {
        let deliberate = match Deliberate::from_scenario(&case.scenario) {
            Ok(d) => d,
            Err(e) => {
                tally.failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        for source in [Source::Local, Source::ArgoCd] {
            tally.runs += 1;
            let key = format!("{}{}", case.name, source.suffix());
            // The controller's parameters are the scenario's (the answer does not repeat them).
            let mut answer = case.answer.clone();
            answer["argocdCmdParams"] = case.scenario["argocdCmdParams"].clone();
            let run = match run_engine(&answer, source, &jq) {
                Ok(r) => r,
                Err(e) => {
                    tally.failures.push(format!("{key}: {e}"));
                    continue;
                }
            };
            let outcome = judge(&case.answer, &run, source);
            let listed = pending(case, source);
            let deliberate = deliberate.as_ref().filter(|d| d.applies_to(source));
            match (outcome, deliberate, listed) {
                (Outcome::Disagree(why), Some(d), _) => {
                    if cause_name(run.drift.cause) == d.cause {
                        tally.deliberate += 1;
                    } else {
                        tally.failures.push(format!(
                            "{key}: deliberate difference says the engine's cause is {}, it is {} ({why})",
                            d.cause,
                            cause_name(run.drift.cause)
                        ));
                    }
                }
                (_, Some(d), _) => tally.failures.push(format!(
                    "{key}: agrees with Argo CD now; delete its `deliberate` ({})",
                    d.reason
                )),
                (Outcome::Disagree(_), None, Some(item)) => {
                    tally.known += 1;
                    tally.pending_seen.insert(item);
                    // A generated scenario may stand for several pending items.
                    tally.pending_seen.extend(
                        case.items
                            .iter()
                            .filter(|i| KNOWN_PENDING_GENERATED_ITEMS.contains(i)),
                    );
                }
                (Outcome::Disagree(why), None, None) => {
                    tally.failures.push(format!(
                        "{key} (items {:?}): {why}\n    {}",
                        case.items,
                        case.scenario["description"].as_str().unwrap_or_default()
                    ));
                }
                (Outcome::Agree | Outcome::Declined(_), None, Some(item))
                    if KNOWN_DISAGREEMENTS.iter().any(|(n, _)| *n == key) =>
                {
                    tally.failures.push(format!(
                        "{key} agrees with Argo CD now: delete it from KNOWN_DISAGREEMENTS (item {item})"
                    ));
                }
                (Outcome::Agree, None, _) => tally.agree += 1,
                (Outcome::Declined(_), None, _) => tally.declined += 1,
            }
        }
    }
}

#[test]
fn hand_written_scenarios_agree_with_argo_cd_or_are_listed() {
    let cases = hand_written();
    let names: BTreeSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    let mut tally = Tally::default();
    for (key, _) in KNOWN_DISAGREEMENTS {
        let base = key.trim_end_matches("@argocd");
        if !names.contains(base) {
            tally
                .failures
                .push(format!("KNOWN_DISAGREEMENTS names {key}: no such scenario"));
        }
    }
    check(
        &cases,
        &|c, s| {
            let key = format!("{}{}", c.name, s.suffix());
            KNOWN_DISAGREEMENTS
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, i)| *i)
        },
        &mut tally,
    );
    let summary = tally.summary(
        &format!("hand-written (Argo CD {})", pinned_argocd()),
        cases.len(),
    );
    eprintln!("{summary}");
    assert!(
        tally.failures.is_empty(),
        "{summary}\n{}",
        tally.failures.join("\n")
    );
}

#[test]
fn every_item_of_issue_16_has_a_scenario() {
    let cases = hand_written();
    let covered: BTreeSet<u8> = cases.iter().flat_map(|c| c.items.clone()).collect();
    let missing: Vec<u8> = (0..=21).filter(|i| !covered.contains(i)).collect();
    assert!(missing.is_empty(), "no scenario for items {missing:?}");
}

// === generated scenarios ===

fn regressions_file() -> PathBuf {
    corpus_dir().join("generated-regressions.txt")
}

/// Seeds from the regressions file: `<seed> # why`.
fn regression_seeds() -> Vec<u64> {
    std::fs::read_to_string(regressions_file())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('#').next()?.trim().parse().ok())
        .collect()
}

/// Asks the oracle about every scenario in one process (JSON lines in, JSON lines out).
fn ask_oracle(
    oracle: &str,
    scenarios: &[(String, Value)],
) -> BTreeMap<String, Result<Value, String>> {
    let mut child = Command::new(oracle)
        .arg("-crds")
        .arg(corpus_dir().join("crds"))
        .arg("batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the oracle {oracle}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = scenarios
        .iter()
        .map(|(name, s)| serde_json::json!({"name": name, "scenario": s}).to_string())
        .collect();
    // Written from another thread: the oracle answers while it reads.
    let writer = std::thread::spawn(move || {
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    });
    let mut out = BTreeMap::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let name = v["name"].as_str().unwrap_or_default().to_string();
        let res = match v.get("answer") {
            Some(a) => Ok(a.clone()),
            None => Err(v["invalid"].as_str().unwrap_or("?").to_string()),
        };
        out.insert(name, res);
    }
    writer.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the oracle exited with {status}");
    out
}

#[test]
#[ignore = "needs the Go oracle: `make test-oracle` (DRIFT_ARGOCD_ORACLE=<binary>)"]
fn generated_scenarios_agree_with_argo_cd_or_are_listed() {
    let oracle = std::env::var("DRIFT_ARGOCD_ORACLE")
        .expect("DRIFT_ARGOCD_ORACLE: the oracle binary (testenv/argocd-oracle.sh bin)");
    // DRIFT_DIFF_SEEDS=<from>-<to> explores other seeds than the default 1..=GENERATED.
    let range = std::env::var("DRIFT_DIFF_SEEDS")
        .ok()
        .and_then(|r| {
            let (a, b) = r.split_once('-')?;
            Some(a.trim().parse::<u64>().ok()?..=b.trim().parse::<u64>().ok()?)
        })
        .unwrap_or(1..=GENERATED);
    let mut seeds = regression_seeds();
    seeds.retain(|s| !range.contains(s));
    seeds.extend(range);
    let generated: Vec<generator::Generated> =
        seeds.iter().map(|s| generator::generate(*s)).collect();
    let answers = ask_oracle(
        &oracle,
        &generated
            .iter()
            .map(|g| (g.name.clone(), g.scenario.clone()))
            .collect::<Vec<_>>(),
    );
    let mut invalid = Vec::new();
    let mut cases = Vec::new();
    for g in &generated {
        match answers.get(&g.name) {
            Some(Ok(a)) => cases.push(Case {
                name: g.name.clone(),
                scenario: g.scenario.clone(),
                answer: a.clone(),
                items: g.items.clone(),
            }),
            Some(Err(e)) => invalid.push(format!("{}: {e}", g.name)),
            None => invalid.push(format!("{}: no answer", g.name)),
        }
    }
    assert!(
        invalid.is_empty(),
        "the generator made scenarios the oracle refuses:\n{}",
        invalid.join("\n")
    );
    let mut tally = Tally::default();
    check(
        &cases,
        &|c, _| {
            c.items
                .iter()
                .find(|i| KNOWN_PENDING_GENERATED_ITEMS.contains(i))
                .copied()
        },
        &mut tally,
    );
    let stale: Vec<u8> = KNOWN_PENDING_GENERATED_ITEMS
        .iter()
        .filter(|i| !tally.pending_seen.contains(i))
        .copied()
        .collect();
    let summary = tally.summary(
        &format!("generated (Argo CD {})", pinned_argocd()),
        cases.len(),
    );
    eprintln!("{summary}");
    // A failing seed is kept: it is replayed first on every later run.
    let known = regression_seeds();
    let failing: Vec<u64> = tally
        .failures
        .iter()
        .filter_map(|f| {
            f.strip_prefix("gen-")?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .filter(|s| !known.contains(s) && !(1..=GENERATED).contains(s))
        .collect();
    if !failing.is_empty() && std::env::var_os("DRIFT_KEEP_SEEDS").is_some() {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(regressions_file())
            .unwrap();
        for s in &failing {
            writeln!(f, "{s} # disagreed with Argo CD {}", pinned_argocd()).unwrap();
        }
    }
    assert!(
        stale.is_empty(),
        "{summary}\nno generated scenario of items {stale:?} disagrees any more: delete them from KNOWN_PENDING_GENERATED_ITEMS"
    );
    assert!(
        tally.failures.is_empty(),
        "{summary}\n{}\n(new failing seeds {failing:?}: DRIFT_KEEP_SEEDS=1 appends them to {})",
        tally.failures.join("\n"),
        regressions_file().display()
    );
}

/// `DRIFT_DIFF_SHOW=7,29 cargo test -p argocd-drift-core --test diff_scenarios show -- --ignored
/// --nocapture`: the generated scenarios of those seeds as the oracle's batch input, to look at
/// one (`| $(testenv/argocd-oracle.sh bin) batch`) or to keep it as a hand-written file.
#[test]
#[ignore = "a tool: prints generated scenarios"]
fn show_generated_scenarios() {
    let seeds = std::env::var("DRIFT_DIFF_SHOW").unwrap_or_default();
    for s in seeds
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
    {
        let g = generator::generate(s);
        println!(
            "{}",
            serde_json::json!({"name": g.name, "scenario": g.scenario})
        );
    }
}

/// The oracle is only as good as its configuration of Argo CD's code: on every resource the
/// real Argo CD control plane recorded (fixtures/argocd-real/, `make record-fixtures`), the
/// oracle, given the recorded target and live objects and the Application, must reproduce the
/// real controller's `modified`, normalized live and predicted live exactly. (Secrets are
/// skipped: the recorded states are masked.)
#[test]
#[ignore = "needs the Go oracle: `make test-oracle` (DRIFT_ARGOCD_ORACLE=<binary>)"]
fn the_oracle_reproduces_the_real_argo_cd_recordings() {
    let oracle = std::env::var("DRIFT_ARGOCD_ORACLE")
        .expect("DRIFT_ARGOCD_ORACLE: the oracle binary (testenv/argocd-oracle.sh bin)");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/argocd-real");
    let mut asked = Vec::new();
    let mut recorded = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let Some(items) = doc["managedResources"].as_array() else {
            continue;
        };
        let app = &doc["application"];
        let application = serde_json::json!({
            "metadata": {"name": app["metadata"]["name"], "namespace": app["metadata"]["namespace"],
                "annotations": app["metadata"]["annotations"]},
            "spec": app["spec"],
        });
        let state = |i: &Value, k: &str| -> Value {
            i[k].as_str()
                .map(|s| serde_json::from_str(s).unwrap())
                .unwrap_or(Value::Null)
        };
        for item in items {
            if item["kind"] == "Secret" {
                continue;
            }
            let name = format!(
                "{}:{}/{}/{}",
                doc["scenario"].as_str().unwrap(),
                item["kind"].as_str().unwrap(),
                item["namespace"].as_str().unwrap_or_default(),
                item["name"].as_str().unwrap()
            );
            let live = doc["live"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| {
                    o["kind"] == item["kind"]
                        && o["metadata"]["name"] == item["name"]
                        && o["metadata"]["namespace"].as_str().unwrap_or_default()
                            == item["namespace"].as_str().unwrap_or_default()
                })
                .cloned()
                .unwrap_or(Value::Null);
            asked.push((
                name.clone(),
                serde_json::json!({"desired": state(item, "targetState"), "live": live,
                    "application": application, "argocdCm": doc["argocdCm"]}),
            ));
            recorded.insert(name, item.clone());
        }
    }
    let answers = ask_oracle(&oracle, &asked);
    let mut problems = Vec::new();
    for (name, item) in &recorded {
        let a = match &answers[name] {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let want_modified = item["modified"].as_bool().unwrap_or(false);
        if a["modified"].as_bool() != Some(want_modified) {
            problems.push(format!(
                "{name}: modified {} (the real controller: {want_modified})",
                a["modified"]
            ));
        }
        for (ours, theirs) in [
            ("normalizedLive", "normalizedLiveState"),
            ("predictedLive", "predictedLiveState"),
        ] {
            let want: Value = item[theirs]
                .as_str()
                .map(|s| serde_json::from_str(s).unwrap())
                .unwrap_or(Value::Null);
            if a[ours] != want {
                problems.push(format!(
                    "{name}: {ours} differs from the real controller's {theirs}:\n  oracle {}\n  real   {}",
                    a[ours], want
                ));
            }
        }
    }
    eprintln!(
        "the oracle against the real Argo CD: {} recorded resources, {} differences",
        recorded.len(),
        problems.len()
    );
    assert!(
        recorded.len() >= 15,
        "only {} recorded resources",
        recorded.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
