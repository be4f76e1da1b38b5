// The host page as Argo CD ≥ 3.5 runs it: React 19, createRoot (bundled: React 19 has no UMD build).
import * as React from "react";
import * as ReactDOM from "react-dom";
import { createRoot } from "react-dom/client";
import { boot } from "./host";

boot(React, ReactDOM, 19, (el, container) => createRoot(container).render(el));
