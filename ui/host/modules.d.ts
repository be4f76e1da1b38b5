// The two react-dom entry points the host pages use (react-dom 16 and 19 ship no types here).
declare module "react-dom" {
  import type { ReactElement } from "react";
  export function render(element: ReactElement, container: Element): void;
}
declare module "react-dom/client" {
  import type { ReactElement } from "react";
  export function createRoot(container: Element): { render(element: ReactElement): void };
}
