// GET /api/v1/reports — written by hand from the reports branch's Rust types
// (core/src/reports/view.rs: AppReportsView, ReportView, FileView, ReportsSummary, AppKeyView;
// model.rs: SyncStatus, FileState; links.rs: LinkedBy) and its README, until those types carry
// the ts-rs derives and this file is replaced by src/generated/reports.ts (see ui/README.md).

export type ReportSyncStatus = "SYNCED" | "OUT_OF_SYNC";

export type FileState = "changed" | "missing" | "extra";

export type LinkedBy = "report" | "annotation";

export type FileView = { name: string; state: FileState | null; diff: string | null };

export type ReportView = {
  key: string;
  repo: string;
  server: string;
  syncStatus: ReportSyncStatus;
  driftCount: number;
  files: Array<FileView>;
  filesCount: number;
  lastCheck: string;
  updatedAt: string;
  stale: boolean;
  linkedBy: LinkedBy;
};

export type ReportsSummary = { count: number; outOfSync: number; stale: number };

export type AppKeyView = { namespace: string; name: string };

export type AppReportsView = {
  application: AppKeyView;
  summary: ReportsSummary;
  reports: Array<ReportView>;
  staleAfterSeconds: number;
  generatedAt: string;
};
