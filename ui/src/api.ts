// The backend's routes, one typed function each, as the browser reaches them through Argo CD's
// proxy extension: `<base href>extensions/drift/api/v1/...`, with the two headers Argo CD checks
// (the argocd.token cookie goes along by itself on a same-origin request).

import type { AppReportsView, DriftReport, ErrorBody, ErrorCode, HistoryView, ResourceDetail, ResourceQuery, StatusView } from "./types";

/** The extension's name in `extension.config.drift` and in the RBAC line. */
export const EXTENSION = "drift";

/** A call that has not answered in this long is given up (and reported as a timeout). */
export const CALL_TIMEOUT_MS = 20_000;

/** The Application a call is about, as Argo CD authorizes it. */
export interface AppRef {
  /** The Application object's own namespace (e.g. `argocd`), not its destination namespace. */
  namespace: string;
  name: string;
  /** `spec.project`; Argo CD treats an empty one as `default`. */
  project: string;
}

/** What went wrong with a call: enough to say what is most likely misconfigured. */
export type ErrorKind =
  | "http" // an HTTP error status
  | "notJson" // 2xx but not our JSON (e.g. Argo CD's own page: the proxy extension is off)
  | "network" // the browser got no answer at all
  | "timeout"; // no answer within CALL_TIMEOUT_MS

export class ApiError extends Error {
  readonly kind: ErrorKind;
  /** HTTP status; 0 when there was no response. */
  readonly status: number;
  /**
   * The backend's stable error `code`, when the body is the backend's error JSON (a newer
   * backend may send one this bundle does not know: `diagnose` has a default for it).
   */
  readonly code: ErrorCode | null;
  /** The backend's message, or the start of a foreign body (Argo CD's own answers are text). */
  readonly detail: string;
  /** The route called, e.g. `/api/v1/status`. */
  readonly route: string;

  constructor(kind: ErrorKind, status: number, code: ErrorCode | null, detail: string, route: string) {
    super(code ? `${status} ${code}: ${detail}` : status ? `${status}: ${detail}` : detail);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.route = route;
  }

  /** True when the backend itself answered (its JSON error shape), not Argo CD or the network. */
  get fromBackend(): boolean {
    return this.code !== null;
  }
}

/** The abort of a call by its caller: not an error to show. */
export function isAbort(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "AbortError";
}

function abortError(): Error {
  const e = new Error("aborted");
  e.name = "AbortError";
  return e;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiOptions {
  /** The page's `<base href>` resolved (document.baseURI); Argo CD may be served under a path. */
  baseHref?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}

function pageBase(): string {
  if (typeof document !== "undefined" && document.baseURI) return document.baseURI;
  throw new Error("no document: pass baseHref");
}

/** `<base href>extensions/drift/` as an absolute URL. */
export function extensionRoot(baseHref: string = pageBase()): string {
  return new URL(`extensions/${EXTENSION}/`, baseHref).toString();
}

/** The URL of a backend route (`/api/v1/...`) under the page's base, with a query string. */
export function routeUrl(
  route: string,
  query: Record<string, string | number | boolean | null | undefined> = {},
  baseHref: string = pageBase(),
): string {
  const url = new URL(route.replace(/^\//, ""), extensionRoot(baseHref));
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  return url.toString();
}

/** The two headers Argo CD requires on every extension call. */
export function argoHeaders(app: AppRef): Record<string, string> {
  return {
    "Argocd-Application-Name": `${app.namespace}:${app.name}`,
    "Argocd-Project-Name": app.project || "default",
  };
}

/** The backend's error JSON (`ErrorBody`, generated from the Rust type), or null for anything else. */
function asBackendError(text: string): ErrorBody | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "object" && v !== null) {
      const o = v as Record<string, unknown>;
      if (o.status === "error" && typeof o.code === "string" && typeof o.message === "string") {
        return { status: "error", code: o.code as ErrorCode, message: o.message };
      }
    }
  } catch {
    // not JSON: Argo CD's own answer, a load balancer's page, or nothing
  }
  return null;
}

function snippet(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/**
 * One GET. The caller's signal aborts it (unmount, a newer call); a call that runs past the
 * timeout is aborted too and reported as `timeout`.
 */
export async function getJson<T>(
  app: AppRef,
  route: string,
  query: Record<string, string | number | boolean | null | undefined>,
  signal: AbortSignal | undefined,
  opts: ApiOptions = {},
): Promise<T> {
  const doFetch: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const url = routeUrl(route, query, opts.baseHref);
  if (signal?.aborted) throw abortError();
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs ?? CALL_TIMEOUT_MS);
  try {
    let res: Response;
    try {
      res = await doFetch(url, {
        method: "GET",
        headers: { ...argoHeaders(app), Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (e) {
      if (timedOut) throw new ApiError("timeout", 0, null, `no answer within ${Math.round((opts.timeoutMs ?? CALL_TIMEOUT_MS) / 1000)} s`, route);
      if (isAbort(e)) throw e;
      throw new ApiError("network", 0, null, e instanceof Error ? e.message : String(e), route);
    }
    const text = await res.text();
    if (!res.ok) {
      const body = asBackendError(text);
      throw new ApiError("http", res.status, body?.code ?? null, body ? body.message : snippet(text), route);
    }
    const type = res.headers.get("content-type") ?? "";
    if (!type.includes("json")) {
      throw new ApiError("notJson", res.status, null, `${type || "no content type"}: ${snippet(text)}`, route);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError("notJson", res.status, null, `unreadable JSON: ${snippet(text)}`, route);
    }
  } catch (e) {
    if (timedOut && isAbort(e)) {
      throw new ApiError("timeout", 0, null, "no answer in time", route);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

// === one function per route ===

export function getStatus(app: AppRef, signal?: AbortSignal, opts?: ApiOptions): Promise<StatusView> {
  return getJson<StatusView>(app, "/api/v1/status", {}, signal, opts);
}

export function getDrift(
  app: AppRef,
  params: { all?: boolean; refresh?: boolean },
  signal?: AbortSignal,
  opts?: ApiOptions,
): Promise<DriftReport> {
  // `refresh`: read the live objects fresh rather than from the backend's cache (the backend
  // serves at most one such read per app per DRIFT_REFRESH_MIN_INTERVAL_SECONDS).
  return getJson<DriftReport>(app, "/api/v1/drift", { all: params.all ? "true" : null, refresh: params.refresh ? "true" : null }, signal, opts);
}

/** The five parameters (`ResourceQuery`) are all required; `group` and `namespace` may be empty. */
export function getResourceDetail(
  app: AppRef,
  r: ResourceQuery,
  signal?: AbortSignal,
  opts?: ApiOptions,
): Promise<ResourceDetail> {
  // Empty values must still be sent: build the query by hand rather than dropping them.
  const q = new URLSearchParams({
    group: r.group,
    version: r.version,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
  });
  return getJson<ResourceDetail>(app, `/api/v1/drift/resource?${q.toString()}`, {}, signal, opts);
}

export function getHistory(
  app: AppRef,
  params: { limit?: number; cursor?: string | null },
  signal?: AbortSignal,
  opts?: ApiOptions,
): Promise<HistoryView> {
  return getJson<HistoryView>(app, "/api/v1/history", { limit: params.limit, cursor: params.cursor }, signal, opts);
}

export function getReports(app: AppRef, signal?: AbortSignal, opts?: ApiOptions): Promise<AppReportsView> {
  return getJson<AppReportsView>(app, "/api/v1/reports", {}, signal, opts);
}

/** The AppRef of an Argo CD Application object as the host passes it to extensions. */
export function appRefOf(application: unknown): AppRef | null {
  if (typeof application !== "object" || application === null) return null;
  const o = application as { metadata?: { namespace?: unknown; name?: unknown }; spec?: { project?: unknown } };
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name;
  if (typeof ns !== "string" || typeof name !== "string" || !ns || !name) return null;
  const project = typeof o.spec?.project === "string" && o.spec.project ? o.spec.project : "default";
  return { namespace: ns, name, project };
}
