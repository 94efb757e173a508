import { ConfigError } from "../errors/index.js";
import type { LimitUnit } from "../errors/index.js";
import { readConfigFile, type ConfigFile } from "./config-file.js";
import {
  DEFAULT_PROFILE,
  LIMIT_DEFINITIONS,
  PROFILE_ENV,
  PROFILE_NAMES,
  isDisabled,
  isLimitKey,
  definitionOf,
  type BooleanLimitKey,
  type LimitKey,
  type NumericLimitKey,
  type ProfileName,
} from "./definitions.js";
import { parseLimitValue } from "./parse.js";

/** Where a resolved value came from, lowest precedence first. */
export type LimitSource = "default" | "profile" | "config" | "env" | "flag" | "option";

/** What every resolved entry has: where its value came from. */
interface ResolvedBase {
  /** Which layer set it. */
  readonly source: LimitSource;
  /** The exact origin: profile name, file and key, variable or flag name. */
  readonly origin: string;
}

/** One resolved numeric limit. */
export interface ResolvedNumericLimit extends ResolvedBase {
  /** Config key. */
  readonly key: NumericLimitKey;
  /** Value in `unit`; `0` or `-1` means disabled. */
  readonly value: number;
  /** Unit of `value`. */
  readonly unit: LimitUnit | "fraction";
  /** True when `value` is 0 or -1. */
  readonly disabled: boolean;
}

/** One resolved on/off setting (such as `allowCodeGeneration`). */
export interface ResolvedBooleanLimit extends ResolvedBase {
  /** Config key. */
  readonly key: BooleanLimitKey;
  /** The setting. */
  readonly value: boolean;
  /** Always `"boolean"`. */
  readonly unit: "boolean";
  /** Always false: a setting is on or off, never switched off as a limit is. */
  readonly disabled: false;
}

/** One resolved limit or setting; `unit === "boolean"` (or the key) tells which. */
export type ResolvedLimit = ResolvedNumericLimit | ResolvedBooleanLimit;

/** The resolved entry type of one key. */
export type ResolvedLimitOf<K extends LimitKey> = K extends BooleanLimitKey
  ? ResolvedBooleanLimit
  : ResolvedNumericLimit;

/** The resolved value type of one key: a number in the limit's unit, or a boolean for a setting. */
export type LimitValueOf<K extends LimitKey> = K extends BooleanLimitKey ? boolean : number;

/**
 * Plain values of every limit and setting: numbers in their units for the
 * numeric limits (`timeoutMs`, `memoryBytes`, ...), booleans for the on/off
 * settings (`allowCodeGeneration`). Plain data: it survives JSON and structured
 * cloning unchanged.
 */
export type LimitValues = { readonly [K in LimitKey]: LimitValueOf<K> };

/**
 * Limit values as a user writes them: numbers in the unit, or strings with
 * units (`"2s"`, `"64MB"`); settings as booleans (or `"true"`/`"false"`/`"1"`/`"0"`).
 */
export type LimitOptions = { [K in NumericLimitKey]?: number | string } & { [K in BooleanLimitKey]?: boolean | string };

/** The effective limits: frozen, and each remembers where it came from. */
export interface ResolvedLimits {
  /** Active profile. */
  readonly profile: ProfileName;
  /** Where the profile was chosen. */
  readonly profileSource: LimitSource;
  /** The config file read, if any. */
  readonly configFile: string | undefined;
  /** Values by key. */
  readonly values: LimitValues;
  /** Values with their sources, by key. */
  readonly entries: { readonly [K in LimitKey]: ResolvedLimitOf<K> };
}

/** Everything the resolver reads; each layer is optional. */
export interface LimitInputs {
  /** Profile chosen by a flag or API option (wins over the environment and file). */
  profile?: string;
  /** `flag` when `profile` came from `--profile`, else `option`. */
  profileSource?: "flag" | "option";
  /** Explicit config file path (must exist); `false` skips the file entirely. */
  configFile?: string | false;
  /** How to name an explicit config path in errors, e.g. `the flag --config`. */
  configFileSource?: string;
  /** Directory where `warden.config.json` is looked up. Default: `process.cwd()`. */
  cwd?: string;
  /** Environment to read. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Raw CLI flag values by key. */
  flags?: Partial<Record<LimitKey, string>>;
  /** API options by key. */
  options?: LimitOptions;
}

function parseProfile(raw: unknown, source: string): ProfileName {
  if (typeof raw === "string" && (PROFILE_NAMES as readonly string[]).includes(raw.trim().toLowerCase())) {
    return raw.trim().toLowerCase() as ProfileName;
  }
  throw new ConfigError({
    source,
    value: raw,
    reason: "unknown profile",
    expected: `one of ${PROFILE_NAMES.join(", ")}`,
  });
}

type Layer = { source: LimitSource; values: Map<LimitKey, { value: number | boolean; origin: string }> };

function optionLayer(source: "flag" | "option", raw: Partial<Record<string, unknown>> | undefined): Layer {
  const values: Layer["values"] = new Map();
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    if (!isLimitKey(key)) {
      throw new ConfigError({
        source: source === "flag" ? "the command line" : "the option limits",
        value: key,
        reason: `unknown limit key ${JSON.stringify(key)}`,
        expected: `one of ${LIMIT_DEFINITIONS.map((d) => d.key).join(", ")}`,
      });
    }
    const def = definitionOf(key);
    const origin = source === "flag" ? def.flag : `limits.${key}`;
    values.set(key, {
      value: parseLimitValue(def, value, source === "flag" ? `the flag ${def.flag}` : `the option limits.${key}`),
      origin,
    });
  }
  return { source, values };
}

function fileLayer(file: ConfigFile | undefined): Layer {
  const values: Layer["values"] = new Map();
  if (!file?.limits) return { source: "config", values };
  for (const [key, raw] of Object.entries(file.limits)) {
    if (!isLimitKey(key)) {
      throw new ConfigError({
        source: `the file ${file.path} key limits`,
        value: key,
        reason: `unknown limit key ${JSON.stringify(key)}`,
        expected: `one of ${LIMIT_DEFINITIONS.map((d) => d.key).join(", ")}`,
      });
    }
    const origin = `${file.path}#limits.${key}`;
    values.set(key, {
      value: parseLimitValue(definitionOf(key), raw, `the file ${file.path} key limits.${key}`),
      origin,
    });
  }
  return { source: "config", values };
}

function envLayer(env: Readonly<Record<string, string | undefined>>): Layer {
  const values: Layer["values"] = new Map();
  for (const def of LIMIT_DEFINITIONS) {
    const raw = env[def.env];
    if (raw === undefined || raw === "") continue;
    values.set(def.key, { value: parseLimitValue(def, raw, `the variable ${def.env}`), origin: def.env });
  }
  return { source: "env", values };
}

function freeze(
  profile: ProfileName,
  profileSource: LimitSource,
  configFile: string | undefined,
  entries: Record<LimitKey, ResolvedLimit>,
): ResolvedLimits {
  const values: Record<string, number | boolean> = {};
  for (const def of LIMIT_DEFINITIONS) {
    Object.freeze(entries[def.key]);
    values[def.key] = entries[def.key].value;
  }
  // Each entry was built by entry() from its own key's definition, so values and entries match their key types.
  return Object.freeze({
    profile,
    profileSource,
    configFile,
    values: Object.freeze(values) as LimitValues,
    entries: Object.freeze(entries) as ResolvedLimits["entries"],
  });
}

function entry(key: LimitKey, value: number | boolean, source: LimitSource, origin: string): ResolvedLimit {
  const def = definitionOf(key);
  if (def.type === "boolean") {
    if (typeof value !== "boolean") throw new TypeError(`${key} needs a boolean, got ${typeof value}`);
    return { key: def.key, value, unit: def.unit, source, origin, disabled: false };
  }
  if (typeof value !== "number") throw new TypeError(`${key} needs a number, got ${typeof value}`);
  return { key: def.key, value, unit: def.unit, source, origin, disabled: isDisabled(value) };
}

/**
 * Resolves the effective limits. Precedence, lowest first: built-in defaults,
 * profile, config file, environment, CLI flags, API options. Every value from
 * every source is validated before anything is returned; a bad one throws a
 * {@link ConfigError} naming the source, the value and the expected form.
 */
export function resolveLimits(inputs: LimitInputs = {}): ResolvedLimits {
  const env = inputs.env ?? process.env;
  const file =
    inputs.configFile === false
      ? undefined
      : readConfigFile({
          ...(inputs.configFile !== undefined ? { explicitPath: inputs.configFile } : {}),
          ...(inputs.configFileSource !== undefined ? { explicitSource: inputs.configFileSource } : {}),
          ...(inputs.cwd !== undefined ? { cwd: inputs.cwd } : {}),
        });

  let profile: ProfileName = DEFAULT_PROFILE;
  let profileSource: LimitSource = "default";
  let profileOrigin = "built-in";
  if (file && file.profile !== undefined) {
    profile = parseProfile(file.profile, `the file ${file.path} key profile`);
    profileSource = "config";
    profileOrigin = `${file.path}#profile`;
  }
  const envProfile = env[PROFILE_ENV];
  if (envProfile !== undefined && envProfile !== "") {
    profile = parseProfile(envProfile, `the variable ${PROFILE_ENV}`);
    profileSource = "env";
    profileOrigin = PROFILE_ENV;
  }
  if (inputs.profile !== undefined) {
    const source = inputs.profileSource ?? "option";
    profile = parseProfile(inputs.profile, source === "flag" ? "the flag --profile" : "the option profile");
    profileSource = source;
    profileOrigin = source === "flag" ? "--profile" : "profile";
  }

  // Validate every layer before building anything, so a bad value changes nothing.
  const layers = [
    fileLayer(file),
    envLayer(env),
    optionLayer("flag", inputs.flags),
    optionLayer("option", inputs.options),
  ];

  const entries = {} as Record<LimitKey, ResolvedLimit>;
  for (const def of LIMIT_DEFINITIONS) {
    entries[def.key] =
      profileSource === "default"
        ? entry(def.key, def.defaults[profile], "default", "built-in")
        : entry(def.key, def.defaults[profile], "profile", `${profile} (${profileOrigin})`);
  }
  for (const layer of layers) {
    for (const [key, { value, origin }] of layer.values) entries[key] = entry(key, value, layer.source, origin);
  }
  return freeze(profile, profileSource, file?.path, entries);
}

/** Applies per-call overrides (API options) on top of resolved limits, returning new frozen limits. */
export function overrideLimits(base: ResolvedLimits, overrides: LimitOptions | undefined): ResolvedLimits {
  if (!overrides || Object.keys(overrides).length === 0) return base;
  const layer = optionLayer("option", overrides);
  const entries: Record<LimitKey, ResolvedLimit> = { ...base.entries };
  for (const [key, { value, origin }] of layer.values) entries[key] = entry(key, value, "option", origin);
  return freeze(base.profile, base.profileSource, base.configFile, entries);
}
