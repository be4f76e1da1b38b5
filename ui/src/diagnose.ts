// "Installed, but nothing shows": from a failed call, say what is most likely wrong and show the
// exact configuration to check. Who answered matters: the backend answers with its JSON error
// (a stable `code`); Argo CD answers its refusals in plain text (401 for any authorization
// failure, 400 for missing headers, 404 when proxy extensions are off or the extension is not
// configured) and with 502 and an empty body when the backend is unreachable.

import { ApiError, AppRef, EXTENSION } from "./api";
import type { ErrorCode } from "./types";

export interface Check {
  /** What to check, in a sentence. */
  text: string;
  /** The exact configuration (YAML, a policy line, a command), when there is one. */
  config?: string;
}

export interface Diagnosis {
  /** A short verdict, e.g. "The shared secret does not match". */
  title: string;
  /** Who answered and what it means. */
  explanation: string;
  checks: Array<Check>;
  /** Temporary (retrying is the remedy) rather than configuration. */
  transient: boolean;
  /** The raw answer, for a support ticket. */
  raw: string;
}

const ENABLE_PROXY = `# argocd-cmd-params-cm (then restart argocd-server: it is read at start-up only)
data:
  server.enable.proxy.extension: "true"`;

/**
 * The install's names, set once at the top of each command block: the browser cannot know them
 * (the backend is the thing that does not answer), so they are the chart's defaults, said where
 * to change them.
 */
const INSTALL = `# argocd-drift's namespace and Deployment: the Helm release's ("argocd-drift" for both by default)
NS=argocd-drift DEPLOY=argocd-drift`;

const ARGOCD_NS = `# Argo CD's namespace
ARGOCD_NS=argocd`;

function commands(...lines: Array<string>): string {
  return [INSTALL, ...lines].join("\n");
}

function extensionConfig(): string {
  return `# argocd-cm
data:
  extension.config.${EXTENSION}: |
    services:
    - url: http://argocd-drift.argocd-drift.svc:8080   # http://<release>.<namespace>.svc:8080
      headers:
      - name: Authorization
        value: '$argocd-drift-proxy:authorization'   # the chart's Secret in Argo CD's namespace: "Bearer <PROXY_TOKEN>"`;
}

function rbacLine(app: AppRef | null): string {
  const which = app ? `${app.project}/${app.name}` : "<project>/<app>";
  return `# argocd-rbac-cm, policy.csv: both lines for the user's role
p, role:<your-role>, applications, get, ${which}, allow
p, role:<your-role>, extensions, invoke, ${EXTENSION}, allow`;
}

const SECRET_CHECK = `${INSTALL}
${ARGOCD_NS}
# the value Argo CD sends (the Secret and key named in extension.config.${EXTENSION}) …
kubectl -n "$ARGOCD_NS" get secret argocd-drift-proxy -o jsonpath='{.data.authorization}' | base64 -d
# … must be "Bearer " followed by the backend's PROXY_TOKEN (or the content of PROXY_TOKEN_FILE)
kubectl -n "$NS" get deploy "$DEPLOY" -o yaml | grep -A3 PROXY_TOKEN`;

function raw(e: ApiError): string {
  const who = e.fromBackend ? "argocd-drift" : e.status ? "Argo CD or a proxy in front of it" : "no answer";
  return `GET ${e.route} → ${e.status || "no response"}${e.code ? ` ${e.code}` : ""} (${who}): ${e.detail || "empty body"}`;
}

export function diagnose(error: unknown, app: AppRef | null): Diagnosis {
  if (!(error instanceof ApiError)) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      title: "The tab failed",
      explanation: "Something went wrong inside the Drift tab itself.",
      checks: [{ text: "Reload the page; if it persists, report this message with the browser console's output." }],
      transient: false,
      raw: message,
    };
  }
  const e = error;
  const base = { raw: raw(e) };

  if (e.kind === "network") {
    return {
      ...base,
      title: "No answer from Argo CD",
      explanation: "The browser could not reach Argo CD's server at all (offline, or Argo CD restarting).",
      checks: [{ text: "Check your connection and that the Argo CD UI itself still loads; the tab retries by itself." }],
      transient: true,
    };
  }
  if (e.kind === "timeout") {
    return {
      ...base,
      title: "The backend did not answer in time",
      explanation: "Argo CD's proxy accepted the call but no answer came back within 20 s.",
      checks: [
        { text: "Check that the argocd-drift pods are running and ready.", config: commands('kubectl -n "$NS" get pods', 'kubectl -n "$NS" logs deploy/"$DEPLOY" --tail=50') },
        { text: "Check argocd-server's log for the extension call." },
      ],
      transient: true,
    };
  }
  if (e.kind === "notJson") {
    return {
      ...base,
      title: "Argo CD answered with a web page, not the backend",
      explanation:
        "The call to /extensions/drift/… came back as HTML: something served a page instead of routing the call — most often proxy extensions are switched off, or an ingress in front of Argo CD rewrites the path.",
      checks: [
        { text: "Enable proxy extensions and restart argocd-server.", config: ENABLE_PROXY },
        { text: "If it is enabled, check that nothing in front of Argo CD rewrites /extensions/ paths." },
      ],
      transient: false,
    };
  }

  // An HTTP error status.
  const code: ErrorCode | null = e.code;
  switch (code) {
    case "MISSING_CREDENTIALS":
      return {
        ...base,
        title: "Argo CD does not send the shared secret",
        explanation:
          "argocd-drift answered, but the call carried no Authorization header: the extension config has no header, so the backend cannot tell the call came through Argo CD.",
        checks: [{ text: "Add the Authorization header to the extension config.", config: extensionConfig() }],
        transient: false,
      };
    case "INVALID_CREDENTIALS":
      return {
        ...base,
        title: "The shared secret does not match",
        explanation:
          "argocd-drift answered, but the Authorization header Argo CD added is not 'Bearer <PROXY_TOKEN>' of this backend (a rotated secret on one side only, or a missing 'Bearer ' prefix).",
        checks: [
          { text: "Compare the secret Argo CD sends with the backend's token.", config: SECRET_CHECK },
          { text: "The argocd-secret value must be the whole header value, 'Bearer ' included: Argo CD replaces a value that is exactly '$key', it does not fill in 'Bearer $key'." },
        ],
        transient: false,
      };
    case "APP_NOT_FOUND":
      return {
        ...base,
        title: "argocd-drift does not know this Application",
        explanation: `argocd-drift answered, but it has no Application ${app ? `${app.namespace}/${app.name}` : ""} in its index (just created, or watched from another cluster).`,
        checks: [
          { text: "Wait a few seconds for the watch to see a new app; otherwise check that the backend watches Argo CD's cluster.", config: commands('kubectl -n "$NS" logs deploy/"$DEPLOY" | grep -i watch') },
        ],
        transient: true,
      };
    case "APP_NAMESPACE_NOT_WATCHED":
      return {
        ...base,
        title: `argocd-drift does not watch the namespace ${app?.namespace ?? "of this Application"}`,
        explanation: "The Application lives in a namespace the backend was not told to watch.",
        checks: [{ text: "Add the namespace to ARGOCD_NAMESPACES (comma-separated, or * for all).", config: `env:\n- name: ARGOCD_NAMESPACES\n  value: "argocd,${app?.namespace ?? "<namespace>"}"` }],
        transient: false,
      };
    case "ROUTE_NOT_FOUND":
      return {
        ...base,
        title: "This backend version does not serve this view",
        explanation: `argocd-drift answered that it has no route ${e.route}: the backend is older than this tab.`,
        checks: [{ text: "Upgrade the argocd-drift backend to the version of this UI bundle." }],
        transient: false,
      };
    case "PROJECT_MISMATCH":
    case "CLUSTER_MISMATCH":
    case "OUT_OF_SCOPE":
      return {
        ...base,
        title: "The backend refused the request's scope",
        explanation: `argocd-drift refused: ${e.detail}. The Application may have moved to another project or destination since the page loaded.`,
        checks: [{ text: "Reload the page. If it persists, compare the app's spec.project and spec.destination with what Argo CD shows." }],
        transient: false,
      };
    case "NOT_READY":
      return {
        ...base,
        title: "argocd-drift is starting",
        explanation: `argocd-drift answered that it is not ready yet: ${e.detail}`,
        checks: [
          {
            text: "If this lasts, the backend cannot list Applications: check its RBAC and its readiness message.",
            config: commands(
              "SA=argocd-drift   # its ServiceAccount (the release's name by default)",
              `kubectl auth can-i list applications.argoproj.io -n ${app?.namespace ?? "argocd"} --as "system:serviceaccount:$NS:$SA"`,
              'kubectl -n "$NS" port-forward deploy/"$DEPLOY" 8081 & curl -s localhost:8081/readyz',
            ),
          },
        ],
        transient: true,
      };
    case "OVERLOADED":
    case "REQUEST_TIMEOUT":
      return {
        ...base,
        title: "argocd-drift is busy",
        explanation: `argocd-drift shed the request (${e.code}); the tab retries with a longer wait.`,
        checks: [{ text: "If it lasts, raise MAX_CONCURRENT_REQUESTS or run more replicas." }],
        transient: true,
      };
    default:
      break;
  }

  if (e.fromBackend) {
    return {
      ...base,
      title: `argocd-drift refused the call (${e.code})`,
      explanation: e.detail,
      checks: [{ text: e.status >= 500 ? "See the backend's log: the cause is logged there, never sent." : "Reload the page; if it persists, report this code." }],
      transient: e.status >= 500,
    };
  }

  // Argo CD (or something in front of it) answered, not the backend.
  switch (e.status) {
    case 401:
    case 403:
      return {
        ...base,
        title: "Argo CD refused the extension call",
        explanation:
          "Argo CD answers every authorization failure of an extension call with a bare 401, before the backend sees it (the reason is only in argocd-server's log). Most often the user's role lacks the extension permission.",
        checks: [
          { text: "Grant the permission to invoke the extension (and to get the app).", config: rbacLine(app) },
          { text: `Check that argocd-cm has extension.config.${EXTENSION}: with per-extension RBAC an unknown extension is also a 401.`, config: extensionConfig() },
          { text: "If you were logged in a long time ago, log in again: an expired session is refused the same way." },
        ],
        transient: false,
      };
    case 404:
      return {
        ...base,
        title: `Argo CD does not route calls to the "${EXTENSION}" extension`,
        explanation: `Argo CD answered 404 itself: proxy extensions are switched off, or argocd-cm has no extension.config.${EXTENSION} (or another extension's invalid config disabled them all).`,
        checks: [
          { text: "Enable proxy extensions and restart argocd-server.", config: ENABLE_PROXY },
          { text: `Configure the extension in argocd-cm.`, config: extensionConfig() },
          { text: "Look for extension errors in argocd-server's log: one invalid extension config disables every extension.", config: `${ARGOCD_NS}\nkubectl -n "$ARGOCD_NS" logs deploy/argocd-server | grep -i extension` },
        ],
        transient: false,
      };
    case 400:
      return {
        ...base,
        title: "Argo CD rejected the extension call",
        explanation: /invalid extension/i.test(e.detail)
          ? "The extension config lists several services and none matches this app's destination cluster."
          : "Argo CD found the call malformed (headers, or no session cookie).",
        checks: [
          { text: "With several services, each needs a 'cluster' matching the apps' spec.destination.", config: 'services:\n- url: http://argocd-drift.prod.svc:8080\n  cluster: {name: prod}' },
          { text: "Log in again if your session cookie is gone." },
        ],
        transient: false,
      };
    case 502:
    case 504:
      return {
        ...base,
        title: "Argo CD cannot reach the argocd-drift backend",
        explanation: `Argo CD's proxy got no answer from the backend (${e.status}): it is down, not ready, or the URL in the extension config points elsewhere.`,
        checks: [
          { text: "Check the backend runs and its Service has endpoints.", config: commands('kubectl -n "$NS" get pods,svc,endpoints') },
          { text: `Check the URL in extension.config.${EXTENSION} (scheme and host only; any path is ignored).`, config: extensionConfig() },
          { text: "A NetworkPolicy must admit argocd-server to the backend's port." },
        ],
        transient: true,
      };
    case 503:
      return {
        ...base,
        title: "The backend is unavailable",
        explanation: "Something in front of argocd-drift answered 503: the backend has no ready endpoints.",
        checks: [{ text: "Check the backend's readiness.", config: commands('kubectl -n "$NS" get pods', 'kubectl -n "$NS" describe deploy "$DEPLOY"') }],
        transient: true,
      };
    default:
      return {
        ...base,
        title: `Unexpected answer (${e.status})`,
        explanation: "Neither argocd-drift nor Argo CD's proxy answers this way: a proxy in front of Argo CD may be interfering.",
        checks: [{ text: "Check argocd-server's log and any ingress in front of it." }],
        transient: e.status >= 500,
      };
  }
}
