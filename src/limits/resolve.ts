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
  type LimitKey,
  type ProfileName,
} from "./definitions.js";
import { parseLimitValue } from "./parse.js";

/** Where a resolved value came from, lowest precedence first. */
export type LimitSource = "default" | "profile" | "config" | "env" | "flag" | "option";

/** One resolved limit. */
export interface ResolvedLimit {
  /** Config key. */
  readonly key: LimitKey;
  /** Value in `unit`; `0` or `-1` means disabled. */
  readonly value: number;
  /** Unit of `value`. */
  readonly unit: LimitUnit | "fraction";
  /** Which layer set it. */
  readonly source: LimitSource;
  /** The exact origin: profile name, file and key, variable or flag name. */
  readonly origin: string;
  /** True when `value` is 0 or -1. */
  readonly disabled: boolean;
}

/** Plain numbers of every limit, in their units. */
export type LimitValues = Readonly<Record<LimitKey, number>>;

/** Limit values as a user writes them: numbers in the unit, or strings with units (`"2s"`, `"64MB"`). */
export type LimitOptions = Partial<Record<LimitKey, number | string>>;

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
  readonly entries: Readonly<Record<LimitKey, ResolvedLimit>>;
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

type Layer = { source: LimitSource; values: Map<LimitKey, { value: number; origin: string }> };

function optionLayer(source: "flag" | "option", raw: Partial<Record<string, unknown>> | undefined): Layer {
  const values = new Map<LimitKey, { value: number; origin: string }>();
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
  const values = new Map<LimitKey, { value: number; origin: string }>();
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
  const values = new Map<LimitKey, { value: number; origin: string }>();
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
  const values = {} as Record<LimitKey, number>;
  for (const def of LIMIT_DEFINITIONS) {
    Object.freeze(entries[def.key]);
    values[def.key] = entries[def.key].value;
  }
  return Object.freeze({
    profile,
    profileSource,
    configFile,
    values: Object.freeze(values),
    entries: Object.freeze(entries),
  });
}

function entry(key: LimitKey, value: number, source: LimitSource, origin: string): ResolvedLimit {
  return { key, value, unit: definitionOf(key).unit, source, origin, disabled: isDisabled(value) };
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
  const entries = { ...base.entries } as Record<LimitKey, ResolvedLimit>;
  for (const [key, { value, origin }] of layer.values) entries[key] = entry(key, value, "option", origin);
  return freeze(base.profile, base.profileSource, base.configFile, entries);
}
