// Registration only: the Drift tab on every Application and the status-panel item. The host's
// window.React renders everything (React 16 on Argo CD ≤ 3.4, React 19 from 3.5).

import * as React from "react";
import { DriftTab, TabProps } from "./components/DriftTab";
import { StatusPanelFlyout, StatusPanelItem } from "./components/StatusPanel";
import { injectStyle } from "./style";

type Component<P> = (props: P) => React.ReactElement | null;

interface ExtensionsAPI {
  registerResourceExtension(component: Component<TabProps>, group: string, kind: string, tabTitle: string, opts?: { icon?: string }): void;
  registerStatusPanelExtension?(
    component: Component<{ application?: unknown; openFlyout?: () => void }>,
    title: string,
    id: string,
    flyout?: Component<{ application?: unknown; tree?: unknown }>,
  ): void;
}

declare global {
  interface Window {
    extensionsAPI?: ExtensionsAPI;
  }
}

((win: Window) => {
  const api = win.extensionsAPI;
  if (!api) {
    console.warn("argocd-drift: window.extensionsAPI is missing; is this page Argo CD?");
    return;
  }
  injectStyle();
  api.registerResourceExtension(DriftTab, "argoproj.io", "Application", "Drift", { icon: "fa fa-code-branch" });
  // Argo CD 2.10+; older hosts simply get the tab.
  api.registerStatusPanelExtension?.(StatusPanelItem, "Drift", "argocd-drift", StatusPanelFlyout);
})(window);
