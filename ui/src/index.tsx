// Registration only: the Drift tab on every Application and the status-panel item, each inside
// its own error boundary (a render error stays in the extension and shows the diagnosis; it never
// reaches Argo CD's page). The host's window.React renders everything (React 16 on Argo CD ≤ 3.4,
// React 19 from 3.5).

import * as React from "react";
import { appRefOf } from "./api";
import { diagnose } from "./diagnose";
import { DiagnosisView, ErrorBoundary, Icon } from "./components/common";
import { DriftTab, TabProps } from "./components/DriftTab";
import { PanelShell, StatusPanelFlyout, StatusPanelItem } from "./components/StatusPanel";
import { pollStore } from "./poll";
import { injectStyle } from "./style";
import { noteOwnRegistration, TAB_TITLE, watchRegistrations } from "./tabLink";

type Component<P> = (props: P) => React.ReactElement | null;

interface PanelProps {
  application?: unknown;
  openFlyout?: () => void;
}
interface FlyoutProps {
  application?: unknown;
  tree?: unknown;
}

interface ExtensionsAPI {
  registerResourceExtension(component: Component<TabProps>, group: string, kind: string, tabTitle: string, opts?: { icon?: string }): void;
  registerStatusPanelExtension?(component: Component<PanelProps>, title: string, id: string, flyout?: Component<FlyoutProps>): void;
}

declare global {
  interface Window {
    extensionsAPI?: ExtensionsAPI;
  }
}

/**
 * `inner` inside an error boundary whose fallback is `fallback`, with the props and a retry:
 * the data that failed to render is asked for again before the component is tried again.
 */
function guarded<P extends { application?: unknown }>(inner: Component<P>, fallback: (props: P, error: unknown, retry: () => void) => React.ReactNode): Component<P> {
  const Guarded = (props: P) => (
    <ErrorBoundary fallback={(error, reset) => fallback(props, error, () => void pollStore.refreshAll().then(reset))}>{React.createElement(inner, props)}</ErrorBoundary>
  );
  return Guarded;
}

const tabFallback = (props: TabProps, error: unknown, retry: () => void) => (
  <div className="drift-ext" data-testid="drift-tab">
    <DiagnosisView error={error} app={appRefOf(props.application) ?? appRefOf(props.resource)} onRetry={retry} />
  </div>
);

const flyoutFallback = (props: FlyoutProps, error: unknown, retry: () => void) => (
  <div className="drift-ext drift-ext--flyout" data-testid="drift-flyout">
    <DiagnosisView error={error} app={appRefOf(props.application)} onRetry={retry} />
  </div>
);

/** In the status panel the fallback stays one item wide; a click retries it and opens the flyout. */
const panelFallback = (props: PanelProps, error: unknown, retry: () => void) => (
  <PanelShell
    title={`Drift failed: ${diagnose(error, appRefOf(props.application)).title}. Click for the diagnosis.`}
    value="Error"
    openFlyout={() => {
      retry();
      props.openFlyout?.();
    }}
  >
    <div className="application-status-panel__item-value drift-ext__panel-value" data-testid="panel-badge">
      <Icon name="fa fa-exclamation-triangle" color="#e96d76" />
      &nbsp;<span data-testid="panel-count">Error</span>
    </div>
  </PanelShell>
);

((win: Window) => {
  const api = win.extensionsAPI;
  if (!api) {
    console.warn("argocd-drift: window.extensionsAPI is missing; is this page Argo CD?");
    return;
  }
  injectStyle();
  api.registerResourceExtension(guarded(DriftTab, tabFallback), "argoproj.io", "Application", TAB_TITLE, { icon: "fa fa-code-branch" });
  noteOwnRegistration("argoproj.io", "Application", TAB_TITLE);
  // Later extensions' tabs shift this one's place: note them for the flyout's link.
  watchRegistrations(api as unknown as Parameters<typeof watchRegistrations>[0]);
  // Argo CD 2.10+; older hosts simply get the tab.
  api.registerStatusPanelExtension?.(guarded(StatusPanelItem, panelFallback), "Drift", "argocd-drift", guarded(StatusPanelFlyout, flyoutFallback));
})(window);
