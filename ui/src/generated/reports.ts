// Generated from the Rust types of GET /api/v1/reports by core/src/ts.rs.
// Do not edit: change the Rust type, then run `make ui-types`.
import type { DataFreshness, ReportsSummary } from "./status";

export type AppKeyView = { namespace: string, name: string, };

/**
 * `GET /api/v1/reports` through the proxy: the reports of one app.
 */
export type AppReportsView = { application: AppKeyView, summary: ReportsSummary, reports: Array<ReportView>, staleAfterSeconds: number, 
/**
 * Whether the reports come from a live watch, or are the last seen before the API server
 * became unreachable.
 */
data: DataFreshness, generatedAt: string, };

/**
 * How one file differs (richer reports only).
 */
export type FileState = "changed" | "missing" | "extra";

export type FileView = { name: string, state: FileState | null, diff: string | null, };

/**
 * How a report came to belong to an app.
 */
export type LinkedBy = "report" | "annotation";

/**
 * The reporter's verdict.
 */
export type ReportSyncStatus = "SYNCED" | "OUT_OF_SYNC";

/**
 * One report as the Argo CD tab sees it, diffs included.
 */
export type ReportView = { key: string, repo: string, server: string, syncStatus: ReportSyncStatus, driftCount: number, files: Array<FileView>, filesCount: number, lastCheck: string, updatedAt: string, stale: boolean, linkedBy: LinkedBy, };
