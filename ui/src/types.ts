// Every API view the tab reads. Generated from the Rust types where they exist on this branch;
// reports and history are hand-written until their Rust views carry the ts-rs derives.
export type * from "./generated/status";
export type * from "./generated/drift";
export type * from "./pending/reports";
export type * from "./pending/history";
