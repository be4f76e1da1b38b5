// Generated from the Rust types of every route's error answer by core/src/ts.rs.
// Do not edit: change the Rust type, then run `make ui-types`.

/**
 * The one error shape: `{"status":"error","code":"<CODE>","message":"<text>"}`.
 */
export type ErrorBody = { status: ErrorStatus, code: ErrorCode, 
/**
 * For people; may change between versions (branch on `code`).
 */
message: string, };

/**
 * Every `code` an error answer carries, on every port (the README's error tables).
 *
 * `MISSING_`, `DUPLICATE_` and `INVALID_` followed by a header's name in upper snake case are the
 * refusals of Argo CD's identity headers, one code per header and problem.
 */
export type ErrorCode = "MISSING_CREDENTIALS" | "INVALID_CREDENTIALS" | "MISSING_ARGOCD_APPLICATION_NAME" | "MISSING_ARGOCD_PROJECT_NAME" | "MISSING_ARGOCD_NAMESPACE" | "MISSING_ARGOCD_USERNAME" | "MISSING_ARGOCD_USER_ID" | "MISSING_ARGOCD_USER_GROUPS" | "MISSING_ARGOCD_TARGET_CLUSTER_NAME" | "MISSING_ARGOCD_TARGET_CLUSTER_URL" | "DUPLICATE_ARGOCD_APPLICATION_NAME" | "DUPLICATE_ARGOCD_PROJECT_NAME" | "DUPLICATE_ARGOCD_NAMESPACE" | "DUPLICATE_ARGOCD_USERNAME" | "DUPLICATE_ARGOCD_USER_ID" | "DUPLICATE_ARGOCD_USER_GROUPS" | "DUPLICATE_ARGOCD_TARGET_CLUSTER_NAME" | "DUPLICATE_ARGOCD_TARGET_CLUSTER_URL" | "INVALID_ARGOCD_APPLICATION_NAME" | "INVALID_ARGOCD_PROJECT_NAME" | "INVALID_ARGOCD_NAMESPACE" | "INVALID_ARGOCD_USERNAME" | "INVALID_ARGOCD_USER_ID" | "INVALID_ARGOCD_USER_GROUPS" | "INVALID_ARGOCD_TARGET_CLUSTER_NAME" | "INVALID_ARGOCD_TARGET_CLUSTER_URL" | "APP_NAMESPACE_NOT_WATCHED" | "APP_NOT_FOUND" | "PROJECT_MISMATCH" | "CLUSTER_MISMATCH" | "OUT_OF_SCOPE" | "UNKNOWN_QUERY_PARAMETER" | "INVALID_QUERY" | "MISSING_QUERY_PARAMETER" | "ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED" | "BODY_TOO_LARGE" | "BODY_UNREADABLE" | "OVERLOADED" | "REQUEST_TIMEOUT" | "NOT_READY" | "SHUTTING_DOWN" | "INTERNAL" | "REPO_NOT_ALLOWED" | "APPLICATION_NOT_ALLOWED" | "TOO_MANY_REPORTS" | "REPORT_BYTES_EXCEEDED" | "INVALID_JSON" | "MISSING_FIELD" | "INVALID_FIELD" | "UNKNOWN_FIELD" | "REPORT_TOO_LARGE" | "REPORT_NOT_FOUND" | "REPORT_NAME_TAKEN" | "STORAGE_UNAVAILABLE" | "STORAGE_REJECTED";

/**
 * The `status` of an error body: always `"error"`.
 */
export type ErrorStatus = "error";
