// Every API view the tab reads. Generated from the Rust types; history is hand-written until its
// Rust views carry the ts-rs derives.
export type * from "./generated/status";
export type * from "./generated/drift";
export type * from "./generated/reports";
export type * from "./pending/history";
