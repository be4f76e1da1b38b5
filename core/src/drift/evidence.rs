//! What the Application's status says about the last sync, which a verdict may rest on.
//!
//! - **Did Git move?** `gitAhead` claims that live still equals what Argo CD last applied and Git
//!   has moved since. The claim needs evidence: the revision(s) Argo CD compares with now
//!   (`status.sync.revision`, or `revisions` for a multi-source app) differ from those of the last
//!   successful sync — `status.operationState.syncResult` when that operation succeeded,
//!   otherwise the newest `status.history` entry (Argo CD records only successful syncs there).
//!   With no sync on record, or no revision to compare, it is unknown.
//! - **When was the last successful sync?** A field whose only writers wrote before it was
//!   already there when Argo CD synced, so it is not a change made live since.
//! - **When did Argo CD last compare?** (`status.reconciledAt`) A live change older than that has
//!   been seen by Argo CD.
//! - **Whose object is it?** A tracking id (`argocd.argoproj.io/tracking-id`,
//!   `<app>:<group>/<kind>:<namespace>/<name>`) names the app; `<app>` is the app's name, or
//!   `<namespace>_<name>` for an app outside Argo CD's own namespace.

use crate::app::{AppKey, ApplicationStatus};
use jiff::Timestamp;

/// The evidence one Application's status gives, computed once per inspection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncEvidence {
    /// `Some(true)`: the compared revision differs from the last synced one; `None`: unknown.
    pub git_moved: Option<bool>,
    /// When the last successful sync finished.
    pub last_sync_at: Option<Timestamp>,
    /// When Argo CD last compared the app with Git.
    pub reconciled_at: Option<Timestamp>,
}

const SUCCEEDED: &str = "Succeeded";

impl SyncEvidence {
    pub fn of(status: &ApplicationStatus) -> SyncEvidence {
        let current = revisions(status.sync.revision.as_deref(), &status.sync.revisions);
        let op = status
            .operation_state
            .as_ref()
            .filter(|op| op.phase.as_deref() == Some(SUCCEEDED));
        let from_op = op.and_then(|op| {
            let r = op.sync_result.as_ref()?;
            let revs = revisions(r.revision.as_deref(), &r.revisions)?;
            Some((revs, op.finished_at.as_deref()))
        });
        let from_history = || {
            let h = status.history.last()?;
            let revs = revisions(h.revision.as_deref(), &h.revisions)?;
            Some((revs, h.deployed_at.as_deref()))
        };
        let last = from_op.or_else(from_history);
        let git_moved = match (&current, &last) {
            (Some(now), Some((synced, _))) => Some(now != synced),
            _ => None,
        };
        SyncEvidence {
            git_moved,
            last_sync_at: last.and_then(|(_, at)| at?.parse().ok()),
            reconciled_at: status.reconciled_at.as_deref().and_then(|t| t.parse().ok()),
        }
    }
}

/// The revisions of one source or of many (`revisions` wins when given), `None` when empty.
fn revisions(single: Option<&str>, many: &[String]) -> Option<Vec<String>> {
    if !many.is_empty() {
        return Some(many.to_vec());
    }
    single
        .filter(|r| !r.is_empty())
        .map(|r| vec![r.to_string()])
}

/// The application part of a tracking id, if it is one.
pub fn tracking_app(tracking_id: &str) -> Option<&str> {
    let (app, rest) = tracking_id.split_once(':')?;
    rest.contains('/').then_some(app)
}

/// Does a tracking id's application part name `key`'s app?
pub fn tracks(app_part: &str, key: &AppKey) -> bool {
    app_part == key.name
        || app_part
            .strip_prefix(key.namespace.as_str())
            .and_then(|r| r.strip_prefix('_'))
            == Some(key.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{OperationState, RevisionHistory, SyncResult};

    fn status(current: &str) -> ApplicationStatus {
        let mut s = ApplicationStatus::default();
        s.sync.revision = Some(current.into());
        s
    }

    fn synced(s: &mut ApplicationStatus, phase: &str, revision: &str, at: &str) {
        s.operation_state = Some(OperationState {
            phase: Some(phase.into()),
            finished_at: Some(at.into()),
            sync_result: Some(SyncResult {
                revision: Some(revision.into()),
                revisions: vec![],
            }),
            ..Default::default()
        });
    }

    #[test]
    fn git_moved_when_the_compared_revision_is_not_the_last_synced_one() {
        let mut s = status("b");
        synced(&mut s, "Succeeded", "a", "2026-01-01T00:00:00Z");
        let e = SyncEvidence::of(&s);
        assert_eq!(e.git_moved, Some(true));
        assert_eq!(
            e.last_sync_at,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        let mut s = status("a");
        synced(&mut s, "Succeeded", "a", "2026-01-01T00:00:00Z");
        assert_eq!(SyncEvidence::of(&s).git_moved, Some(false));
    }

    #[test]
    fn a_failed_operation_defers_to_the_last_history_entry() {
        let mut s = status("b");
        synced(&mut s, "Failed", "b", "2026-01-02T00:00:00Z");
        assert_eq!(
            SyncEvidence::of(&s).git_moved,
            None,
            "no successful sync known"
        );
        s.history.push(RevisionHistory {
            revision: Some("a".into()),
            revisions: vec![],
            deployed_at: Some("2026-01-01T00:00:00Z".into()),
        });
        let e = SyncEvidence::of(&s);
        assert_eq!(e.git_moved, Some(true));
        assert_eq!(
            e.last_sync_at,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn multi_source_apps_compare_every_revision() {
        let mut s = ApplicationStatus::default();
        s.sync.revisions = vec!["a".into(), "c".into()];
        s.history.push(RevisionHistory {
            revision: None,
            revisions: vec!["a".into(), "b".into()],
            deployed_at: None,
        });
        assert_eq!(SyncEvidence::of(&s).git_moved, Some(true));
        s.sync.revisions = vec!["a".into(), "b".into()];
        assert_eq!(SyncEvidence::of(&s).git_moved, Some(false));
    }

    #[test]
    fn without_a_revision_on_record_nothing_is_known() {
        assert_eq!(SyncEvidence::of(&status("a")).git_moved, None);
        assert_eq!(
            SyncEvidence::of(&ApplicationStatus::default()).git_moved,
            None
        );
    }

    #[test]
    fn tracking_ids_name_the_app_by_name_or_namespace_and_name() {
        let key = AppKey::new("team-a", "shop");
        let id = "shop:apps/Deployment:shop/web";
        assert_eq!(tracking_app(id), Some("shop"));
        assert!(tracks("shop", &key));
        assert!(tracks("team-a_shop", &key));
        assert!(!tracks("other", &key));
        assert!(!tracks("team-b_shop", &key));
        assert_eq!(tracking_app("not a tracking id"), None);
    }
}
