// Every API view the tab reads, generated from the Rust types (`make ui-types`).
export type * from "./generated/status";
export type * from "./generated/drift";
export type * from "./generated/reports";
export type * from "./generated/history";
export type * from "./generated/errors";
