//! A record as held in memory between uses: packed bytes, and what the hot paths read without
//! unpacking it.
//!
//! A backend holds the record of every app that ever drifted (up to 100 episodes each). Parsed,
//! a record of 100 episodes is ~100 KiB of small allocations; packed (text written once, numbers
//! as varints) it is a few KiB in one. It is unpacked only to answer `GET /api/v1/history` for
//! that app or to write it; `/status`, `/drift`, the gauges, the sweep and the unseen-deletion
//! check read the [`Digest`] kept beside it.

use super::model::{
    DriftCause, End, EndCause, Episode, Involved, OperationMark, Pruned, Record, Start,
};
use super::view::current_drift;
use crate::pack::{Reader, Writer};
use crate::tracking::OutOfSync;
use jiff::Timestamp;

/// A record, packed. Unpacking gives back exactly the record packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedRecord {
    bytes: Box<[u8]>,
    digest: Digest,
}

/// What is read of a held record without unpacking it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    pub episodes: usize,
    /// The episode under way, as `outOfSync` timing.
    pub current: Option<OutOfSync>,
    /// The episode under way, whole (what `/status` shows of the drift).
    pub open: Option<Box<Episode>>,
    /// When the oldest episode ended (`None`: it has not, or there is none): what age-based
    /// retention looks at.
    pub oldest_end: Option<Timestamp>,
    /// How the newest ended episode ended (the fleet document's last end cause).
    pub last_end: Option<LastEnd>,
}

/// How an episode ended, and the Argo CD user who synced (if one did).
pub type LastEnd = (EndCause, Option<String>);

impl PackedRecord {
    pub fn pack(record: &Record) -> PackedRecord {
        let mut w = Writer::new();
        w.u64(record.episodes.len() as u64);
        for e in &record.episodes {
            write_episode(&mut w, e);
        }
        w.bool(record.pruned.is_some());
        if let Some(p) = &record.pruned {
            w.str(&p.through_version);
            w.timestamp(p.last_started_at);
            w.u64(p.count);
        }
        PackedRecord {
            bytes: w.finish(),
            digest: Digest {
                episodes: record.episodes.len(),
                current: current_drift(record),
                open: record.open().map(|e| Box::new(e.clone())),
                oldest_end: record
                    .episodes
                    .first()
                    .and_then(|e| e.end.as_ref())
                    .map(|end| end.at),
                last_end: record
                    .episodes
                    .iter()
                    .rev()
                    .find_map(|e| e.end.as_ref().map(|end| (end.cause, end.user.clone()))),
            },
        }
    }

    /// The record packed. `None` only if this module has a bug (it reads what it wrote).
    pub fn unpack(&self) -> Option<Record> {
        let mut r = Reader::new(&self.bytes);
        let n = r.usize()?;
        let mut episodes = Vec::with_capacity(n.min(super::model::bounds::MAX_EPISODES));
        for _ in 0..n {
            episodes.push(read_episode(&mut r)?);
        }
        let pruned = if r.bool()? {
            Some(Pruned {
                through_version: r.string()?,
                last_started_at: r.timestamp()?,
                count: r.u64()?,
            })
        } else {
            None
        };
        r.is_done().then_some(Record { episodes, pruned })
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Bytes held by the packed form (the digest aside).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

const WITNESSED: u8 = 1;
const INFERRED: u8 = 2;
const OPERATION: u8 = 4;
const RUNNING: u8 = 8;
const TRIMMED: u8 = 16;
const ENDED: u8 = 32;

fn write_episode<'a>(w: &mut Writer<'a>, e: &'a Episode) {
    let s = &e.start;
    let flags = [
        (s.witnessed, WITNESSED),
        (s.inferred, INFERRED),
        (s.operation.is_some(), OPERATION),
        (s.operation.as_ref().is_some_and(|o| o.running), RUNNING),
        (e.detail_trimmed, TRIMMED),
        (e.end.is_some(), ENDED),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, bit)| acc | bit);
    w.byte(flags);
    w.str(&e.id);
    w.timestamp(s.at);
    w.str(&s.version);
    w.opt_str(s.revision.as_deref());
    if let Some(op) = &s.operation {
        w.str(&op.started_at);
    }
    if let Some(end) = &e.end {
        w.timestamp(end.at);
        w.str(&end.version);
        w.bool(end.witnessed);
        w.byte(cause_code(end.cause));
        w.opt_str(end.user.as_deref());
        w.opt_str(end.operation_phase.as_deref());
        w.opt_str(end.revision.as_deref());
    }
    w.u64(e.resources.len() as u64);
    for r in &e.resources {
        w.str(&r.group);
        w.str(&r.kind);
        w.str(&r.namespace);
        w.str(&r.name);
        w.byte(r.cause.map_or(0, |c| drift_code(c) + 1));
        w.u64(r.fields.len() as u64);
        for f in &r.fields {
            w.str(f);
        }
        w.u64(r.managers.len() as u64);
        for m in &r.managers {
            w.str(m);
        }
    }
}

fn read_episode(r: &mut Reader<'_>) -> Option<Episode> {
    let flags = r.byte()?;
    let on = |bit: u8| flags & bit != 0;
    let id = r.string()?;
    let at = r.timestamp()?;
    let version = r.string()?;
    let revision = r.opt_string()?;
    let operation = if on(OPERATION) {
        Some(OperationMark {
            started_at: r.string()?,
            running: on(RUNNING),
        })
    } else {
        None
    };
    let end = if on(ENDED) {
        Some(End {
            at: r.timestamp()?,
            version: r.string()?,
            witnessed: r.bool()?,
            cause: cause_of(r.byte()?)?,
            user: r.opt_string()?,
            operation_phase: r.opt_string()?,
            revision: r.opt_string()?,
        })
    } else {
        None
    };
    let n = r.usize()?;
    let mut resources = Vec::with_capacity(n.min(super::model::bounds::MAX_RESOURCES));
    for _ in 0..n {
        let group = r.string()?;
        let kind = r.string()?;
        let namespace = r.string()?;
        let name = r.string()?;
        let cause = match r.byte()? {
            0 => None,
            c => Some(drift_of(c - 1)?),
        };
        let list = |r: &mut Reader<'_>| -> Option<Vec<String>> {
            let n = r.usize()?;
            (0..n).map(|_| r.string()).collect()
        };
        let fields = list(r)?;
        let managers = list(r)?;
        resources.push(Involved {
            group,
            kind,
            namespace,
            name,
            cause,
            fields,
            managers,
        });
    }
    Some(Episode {
        id,
        start: Start {
            at,
            version,
            witnessed: on(WITNESSED),
            inferred: on(INFERRED),
            revision,
            operation,
        },
        end,
        resources,
        detail_trimmed: on(TRIMMED),
    })
}

fn cause_code(c: EndCause) -> u8 {
    EndCause::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

fn cause_of(code: u8) -> Option<EndCause> {
    EndCause::ALL.get(usize::from(code)).copied()
}

const DRIFT_CAUSES: [DriftCause; 4] = [
    DriftCause::LiveChanged,
    DriftCause::GitAhead,
    DriftCause::Missing,
    DriftCause::Extra,
];

fn drift_code(c: DriftCause) -> u8 {
    DRIFT_CAUSES.iter().position(|x| *x == c).unwrap_or(0) as u8
}

fn drift_of(code: u8) -> Option<DriftCause> {
    DRIFT_CAUSES.get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::{closed, open_episode, t};

    fn detailed(version: &str, at: i64) -> Episode {
        let mut e = closed(
            version,
            at,
            &(version.parse::<u64>().unwrap() + 1).to_string(),
            at + 5,
        );
        e.resources = vec![Involved {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "payments".into(),
            name: "api".into(),
            cause: Some(DriftCause::LiveChanged),
            fields: vec![
                "spec.replicas".into(),
                "spec.template.spec.containers[name=api].image".into(),
            ],
            managers: vec!["kubectl-edit".into()],
        }];
        e
    }

    #[test]
    fn a_record_unpacks_to_what_was_packed() {
        let mut trimmed = detailed("10", 10);
        trimmed.detail_trimmed = true;
        trimmed.resources.clear();
        let mut inferred = open_episode("40", 40);
        inferred.start.inferred = true;
        inferred.start.witnessed = false;
        inferred.start.operation = Some(OperationMark {
            started_at: "2026-11-01T00:00:00Z".into(),
            running: true,
        });
        let record = Record {
            episodes: vec![trimmed, detailed("20", 20), detailed("30", 30), inferred],
            pruned: Some(Pruned {
                through_version: "5".into(),
                last_started_at: t(5),
                count: 3,
            }),
        };
        let packed = PackedRecord::pack(&record);
        assert_eq!(packed.unpack(), Some(record.clone()));
        let digest = packed.digest();
        assert_eq!(digest.episodes, 4);
        assert_eq!(digest.current, current_drift(&record));
        assert_eq!(digest.open.as_deref(), record.episodes.last());
        assert_eq!(digest.oldest_end, Some(t(15)));
        assert_eq!(
            PackedRecord::pack(&Record::default()).unpack(),
            Some(Record::default())
        );
    }

    #[test]
    fn a_hundred_detailed_episodes_pack_into_a_few_kilobytes() {
        let record = Record {
            episodes: (0..100)
                .map(|k| detailed(&(2 * k + 1).to_string(), k as i64 * 3600))
                .collect(),
            pruned: None,
        };
        let json = serde_json::to_vec(&record).unwrap().len();
        let packed = PackedRecord::pack(&record);
        assert_eq!(packed.unpack(), Some(record));
        assert!(
            packed.heap_bytes() * 4 < json,
            "{} bytes packed for {json} bytes of JSON",
            packed.heap_bytes()
        );
    }
}
