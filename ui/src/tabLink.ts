// The link from the status-panel flyout to the Drift tab. Argo CD opens an Application's resource
// tab with `?node=argoproj.io/Application/<namespace>/<name>/0&tab=extension-<n>`, where n is the
// tab's place among the resource tabs registered for Applications, sorted by title (a stable
// sort, so equal titles keep their registration order). n depends on the other extensions
// installed, so it is resolved at run time:
//   - the tab records the key it was opened with (the URL says it whenever it is shown), for
//     this browser: once the tab has been opened, the link is exact;
//   - before that, n is counted from the registrations this bundle saw (its own, and every one
//     after it: `watchRegistrations` wraps the host's register function). An extension loaded
//     before this one is invisible to it until the tab has been opened once.

import type { AppRef } from "./api";

/** The tab's title, as registered. */
export const TAB_TITLE = "Drift";

const STORAGE_KEY = "argocd-drift.tab-key";

export interface Registration {
  group: string;
  kind: string;
  title: string;
  mine: boolean;
}

const seen: Array<Registration> = [];
let recorded: string | null = null;

/** A glob as Argo CD's extension service matches group and kind (minimatch: `*` and `?`). */
export function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(value);
}

/** `extension-<n>`: n is the place of this bundle's tab among the Application tabs, sorted by title. */
export function tabKeyFrom(registrations: Array<Registration>): string {
  const tabs = registrations.filter((r) => globMatches(r.group, "argoproj.io") && globMatches(r.kind, "Application"));
  const sorted = tabs.slice().sort((a, b) => a.title.localeCompare(b.title));
  const i = sorted.findIndex((r) => r.mine);
  return `extension-${Math.max(0, i)}`;
}

type Register = (component: never, group: string, kind: string, title: string, opts?: unknown) => void;

/**
 * Register this bundle's tab and watch every later resource-tab registration (keeping the
 * host's function as it is: the wrapper only notes what passes through).
 */
export function watchRegistrations(api: { registerResourceExtension: Register }): void {
  const original = api.registerResourceExtension.bind(api);
  api.registerResourceExtension = ((component: never, group: string, kind: string, title: string, opts?: unknown) => {
    seen.push({ group, kind, title, mine: false });
    return original(component, group, kind, title, opts);
  }) as Register;
}

/** Note this bundle's own registration (in order with the others). */
export function noteOwnRegistration(group: string, kind: string, title: string): void {
  seen.push({ group, kind, title, mine: true });
}

/** The tab was shown with this URL: its `tab` parameter is the tab's key in this Argo CD. */
export function recordShownTab(search: string, storage: Pick<Storage, "setItem"> | null = safeStorage()): void {
  const key = new URLSearchParams(search).get("tab");
  if (!key || !/^extension-\d+$/.test(key)) return;
  recorded = key;
  try {
    storage?.setItem(STORAGE_KEY, key);
  } catch {
    // storage full or denied: the key is still kept for this page
  }
}

/** The tab's key: as recorded when it was shown, else as counted from the registrations seen. */
export function currentTabKey(storage: Pick<Storage, "getItem"> | null = safeStorage()): string {
  if (recorded) return recorded;
  try {
    const stored = storage?.getItem(STORAGE_KEY);
    if (stored && /^extension-\d+$/.test(stored)) return stored;
  } catch {
    // storage denied
  }
  return tabKeyFrom(seen);
}

/** The URL of the app's Drift tab: this page (the app's page) with `node` and `tab` set. */
export function tabHref(app: AppRef, href: string, key: string): string {
  const url = new URL(href);
  url.searchParams.set("node", `argoproj.io/Application/${app.namespace}/${app.name}/0`);
  url.searchParams.set("tab", key);
  return `${url.pathname}${url.search}`;
}

/**
 * Argo CD's Events tab of the Application itself (`tab=events` on the app's node): where the
 * DriftStarted / DriftEnded Events argocd-drift creates are listed.
 */
export function eventsHref(app: AppRef, href: string): string {
  return tabHref(app, href, "events");
}

function safeStorage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    return null;
  }
}
