import type { ErrorCode } from "./codes.js";

/** Which limit a {@link LimitExceededError} hit. */
export type LimitKind =
  | "timeout"
  | "cpu"
  | "instructions"
  | "memory"
  | "recursion"
  | "value_size"
  | "tasks"
  | "connections"
  | "datastore_size"
  | "subrequests";

/** Every limit kind, in table order. */
export const LIMIT_KINDS: readonly LimitKind[] = [
  "timeout",
  "cpu",
  "instructions",
  "memory",
  "recursion",
  "value_size",
  "tasks",
  "connections",
  "datastore_size",
  "subrequests",
];

/** Stable error code for each limit kind. */
export const LIMIT_CODES: Readonly<Record<LimitKind, ErrorCode>> = {
  timeout: "WARDEN_LIMIT_TIMEOUT",
  cpu: "WARDEN_LIMIT_CPU",
  instructions: "WARDEN_LIMIT_INSTRUCTIONS",
  memory: "WARDEN_LIMIT_MEMORY",
  recursion: "WARDEN_LIMIT_RECURSION",
  value_size: "WARDEN_LIMIT_VALUE_SIZE",
  tasks: "WARDEN_LIMIT_TASKS",
  connections: "WARDEN_LIMIT_CONNECTIONS",
  datastore_size: "WARDEN_LIMIT_DATASTORE_SIZE",
  subrequests: "WARDEN_LIMIT_SUBREQUESTS",
};
