// The host page as Argo CD ≤ 3.4 runs it: React 16, ReactDOM.render.
import * as React from "react";
import * as ReactDOM from "react-dom";
import { boot } from "./host";

boot(React, ReactDOM, 16, (el, container) => ReactDOM.render(el, container));
