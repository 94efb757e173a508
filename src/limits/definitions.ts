import type { LimitKind, LimitUnit } from "../errors/index.js";

/** Config keys of the numeric limits: budgets and caps with a unit, where `0` or `-1` disables. */
export type NumericLimitKey =
  | "timeoutMs"
  | "cpuTimeMs"
  | "maxInstructions"
  | "memoryBytes"
  | "maxRecursionDepth"
  | "maxValueBytes"
  | "maxConcurrentTasks"
  | "maxConnections"
  | "maxDatastoreBytes"
  | "maxSubrequests"
  | "warnAt";

/** Config keys of the on/off settings that resolve with the limits (same sources, same precedence). */
export type BooleanLimitKey = "allowCodeGeneration";

/** Config keys of every limit and setting (code, JSON, config file). */
export type LimitKey = NumericLimitKey | BooleanLimitKey;

/** The three built-in profiles. */
export type ProfileName = "strict" | "normal" | "relaxed";

/** Every profile name; `normal` is the default. */
export const PROFILE_NAMES: readonly ProfileName[] = ["strict", "normal", "relaxed"];

/** The profile used when none is given. */
export const DEFAULT_PROFILE: ProfileName = "normal";

/**
 * How a raw value is read: a duration, a size, a whole count, a fraction of a
 * budget, or (for on/off settings) a boolean.
 */
export type ValueType = "duration" | "size" | "count" | "fraction" | "boolean";

/** Unit of a resolved value; `"boolean"` for on/off settings. */
export type LimitValueUnit = LimitUnit | "fraction" | "boolean";

/** What the definitions of limits and settings share. */
interface DefinitionBase {
  /** Environment variable. */
  readonly env: string;
  /** CLI flag, with its dashes. */
  readonly flag: string;
  /** One line for help text and docs. */
  readonly description: string;
}

/** A numeric limit: a budget or cap in a unit; `0` or `-1` disables it. */
export interface NumericLimitDefinition extends DefinitionBase {
  /** Config key. */
  readonly key: NumericLimitKey;
  /** Error kind raised when the limit is hit; `undefined` for `warnAt`, which raises none. */
  readonly kind: LimitKind | undefined;
  /** How raw values are read. */
  readonly type: Exclude<ValueType, "boolean">;
  /** Unit of the resolved value. */
  readonly unit: LimitUnit | "fraction";
  /** Value in each profile, in `unit`. */
  readonly defaults: Readonly<Record<ProfileName, number>>;
}

/** An on/off setting: read as `true`/`false` (or `1`/`0`), never "disabled". */
export interface BooleanLimitDefinition extends DefinitionBase {
  /** Config key. */
  readonly key: BooleanLimitKey;
  /** Settings raise no limit error. */
  readonly kind: undefined;
  /** How raw values are read. */
  readonly type: "boolean";
  /** Unit of the resolved value. */
  readonly unit: "boolean";
  /** Value in each profile. */
  readonly defaults: Readonly<Record<ProfileName, boolean>>;
}

/** Everything Warden knows about one limit or setting; `type` tells the two apart. */
export type LimitDefinition = NumericLimitDefinition | BooleanLimitDefinition;

const MB = 1e6;
const GB = 1e9;

/** The limits table: one source of truth for keys, units, variables, flags and defaults. */
export const LIMIT_DEFINITIONS: readonly LimitDefinition[] = [
  {
    key: "timeoutMs",
    kind: "timeout",
    type: "duration",
    unit: "ms",
    env: "WARDEN_TIMEOUT",
    flag: "--timeout",
    defaults: { strict: 5_000, normal: 30_000, relaxed: 300_000 },
    description: "wall-clock time of one run, including all its async work",
  },
  {
    key: "cpuTimeMs",
    kind: "cpu",
    type: "duration",
    unit: "ms",
    env: "WARDEN_CPU_TIME",
    flag: "--cpu",
    defaults: { strict: 1_000, normal: 10_000, relaxed: 60_000 },
    description: "CPU time of one run",
  },
  {
    key: "maxInstructions",
    kind: "instructions",
    type: "count",
    unit: "instructions",
    env: "WARDEN_MAX_INSTRUCTIONS",
    flag: "--max-instructions",
    defaults: { strict: 1_000_000, normal: 10_000_000, relaxed: 100_000_000 },
    description: "instruction budget of one run (1 unit = one function call or one loop iteration)",
  },
  {
    key: "memoryBytes",
    kind: "memory",
    type: "size",
    unit: "bytes",
    env: "WARDEN_MEMORY",
    flag: "--memory",
    defaults: { strict: 10 * MB, normal: 50 * MB, relaxed: 200 * MB },
    description: "memory of one sandbox (heap and ArrayBuffers)",
  },
  {
    key: "maxRecursionDepth",
    kind: "recursion",
    type: "count",
    unit: "calls",
    env: "WARDEN_MAX_RECURSION_DEPTH",
    flag: "--max-depth",
    defaults: { strict: 1_000, normal: 10_000, relaxed: 10_000 },
    description: "call depth within one run",
  },
  {
    key: "maxValueBytes",
    kind: "value_size",
    type: "size",
    unit: "bytes",
    env: "WARDEN_MAX_VALUE_SIZE",
    flag: "--max-value-size",
    defaults: { strict: 1 * MB, normal: 1 * GB, relaxed: 1 * GB },
    description: "size of any value crossing into or out of the sandbox",
  },
  {
    key: "maxConcurrentTasks",
    kind: "tasks",
    type: "count",
    unit: "tasks",
    env: "WARDEN_MAX_TASKS",
    flag: "--max-tasks",
    defaults: { strict: 100, normal: 10_000, relaxed: 10_000 },
    description: "spawned tasks alive at once, per process",
  },
  {
    key: "maxConnections",
    kind: "connections",
    type: "count",
    unit: "connections",
    env: "WARDEN_MAX_HTTP_CONNECTIONS",
    flag: "--max-connections",
    defaults: { strict: 1_000, normal: 10_000, relaxed: 10_000 },
    description: "open HTTP connections per server",
  },
  {
    key: "maxDatastoreBytes",
    kind: "datastore_size",
    type: "size",
    unit: "bytes",
    env: "WARDEN_MAX_DATASTORE_SIZE",
    flag: "--max-datastore-size",
    defaults: { strict: 10 * MB, normal: 1 * GB, relaxed: 1 * GB },
    description: "bytes per datastore namespace",
  },
  {
    key: "maxSubrequests",
    kind: "subrequests",
    type: "count",
    unit: "requests",
    env: "WARDEN_MAX_SUBREQUESTS",
    flag: "--max-subrequests",
    defaults: { strict: 10, normal: 50, relaxed: 1_000 },
    description: "outgoing fetch() requests per run (fetch is off unless allowFetch lists origins)",
  },
  {
    key: "warnAt",
    kind: undefined,
    type: "fraction",
    unit: "fraction",
    env: "WARDEN_WARN_AT",
    flag: "--warn-at",
    defaults: { strict: 0.8, normal: 0.9, relaxed: 0.95 },
    description: "fraction of a time, CPU, instruction or memory budget at which a warning fires",
  },
  {
    key: "allowCodeGeneration",
    kind: undefined,
    type: "boolean",
    unit: "boolean",
    env: "WARDEN_ALLOW_CODE_GENERATION",
    flag: "--allow-code-generation",
    defaults: { strict: true, normal: true, relaxed: true },
    description:
      "allow eval, new Function and the async/generator function constructors in the sandbox (false: EvalError)",
  },
];

/** True when a definition is a numeric limit rather than an on/off setting. */
export function isNumericDefinition(def: LimitDefinition): def is NumericLimitDefinition {
  return def.type !== "boolean";
}

/** Every limit key, in table order. */
export const LIMIT_KEYS: readonly LimitKey[] = LIMIT_DEFINITIONS.map((d) => d.key);

/** The environment variable that selects a profile. */
export const PROFILE_ENV = "WARDEN_PROFILE";

/** Definition of one key. */
export function definitionOf(key: NumericLimitKey): NumericLimitDefinition;
export function definitionOf(key: BooleanLimitKey): BooleanLimitDefinition;
export function definitionOf(key: LimitKey): LimitDefinition;
export function definitionOf(key: LimitKey): LimitDefinition {
  const found = LIMIT_DEFINITIONS.find((d) => d.key === key);
  if (!found) throw new TypeError(`unknown limit key ${JSON.stringify(key)}`);
  return found;
}

/** True when a key names a limit. */
export function isLimitKey(key: string): key is LimitKey {
  return (LIMIT_KEYS as readonly string[]).includes(key);
}

/** `0` or `-1` switches a limit off. */
export function isDisabled(value: number): boolean {
  return value === 0 || value === -1;
}
