/**
 * The settings of `warden serve`: one table (key, variable, flag, default, how a
 * value is read), and their resolution from the config file's `serve` section,
 * the environment, CLI flags and API options, lowest precedence first — the
 * same rules as the limits: every value of every layer is validated before
 * anything is used, and a bad one is a `ConfigError` naming its source, the
 * value and the expected form.
 */
import { ConfigError } from "../errors/index.js";
import {
  definitionOf,
  isLimitKey,
  LIMIT_DEFINITIONS,
  parseLimitValue,
  type ConfigFile,
  type LimitOptions,
} from "../limits/index.js";
import { ENGINE_NAMES, type EngineName } from "../engine/index.js";
import { isLoopbackHost } from "./dashboard.js";
import { EXPECTED_DURATION, parseDuration, UnitParseError } from "../units/index.js";

/** Log levels of the server's logger (pino's). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where a request's user key comes from: the client's address, or a request header. */
export type UserFrom = { kind: "ip" } | { kind: "header"; name: string };

/** The server's settings as a user writes them (numbers, or strings with units). */
export interface ServeSettingsOptions {
  /** App port; `0` picks a free one. @default 8787 */
  port?: number | string;
  /** Address the app port binds. @default "127.0.0.1" */
  host?: string;
  /** Admin port (the dashboard at `/`, `/metrics`, `/health`, `/ready`); `0` picks a free one. @default 0 */
  adminPort?: number | string;
  /** Address the admin port binds; one that is not loopback needs `adminToken`. @default "127.0.0.1" */
  adminHost?: string;
  /** Token the admin listener requires (bearer or `?token=`) for all but /health and /ready. @default none */
  adminToken?: string;
  /** Sandbox engine. @default "v8" */
  engine?: EngineName | string;
  /** Datastore URL behind the guests' `datastore(name)` (`memory:`, `sqlite:PATH`, `redis://HOST:PORT`). @default none */
  datastore?: string;
  /** `ip` or `header:NAME`. @default "ip" */
  userFrom?: string;
  /** How long in-flight requests may finish after SIGTERM/SIGINT or `close()`. @default 10_000 */
  drainTimeoutMs?: number | string;
  /** pino log level. @default "info" */
  logLevel?: LogLevel | string;
  /** Warm instances per app serving requests in parallel. @default the engine's (V8: 4 per CPU, at most 16; QuickJS: 2 per CPU, at most 8) */
  instances?: number | string;
  /** Time a client has to send the request headers (slow clients get 408 and are closed). @default 10_000 */
  headersTimeoutMs?: number | string;
  /** Time a client has to send the whole request, body included. @default 30_000 */
  requestTimeoutMs?: number | string;
  /** Reload an app when its file (or a file in its folder) changes, draining the old version. @default false */
  watch?: boolean | string;
}

/** A setting's key. */
export type ServeSettingKey = keyof ServeSettingsOptions;

/** How a raw value of a setting is read. */
type SettingType =
  "port" | "host" | "engine" | "datastore" | "user" | "duration" | "level" | "count" | "boolean" | "token";

/** One row of the settings table. */
export interface ServeSetting {
  /** Option and config-file key (`serve.<key>`). */
  readonly key: ServeSettingKey;
  /** Environment variable. */
  readonly env: string;
  /** CLI flag, with its dashes. */
  readonly flag: string;
  /** How values are read and checked. */
  readonly type: SettingType;
  /** One line for help and docs. */
  readonly description: string;
}

/** The settings table of `warden serve`: one source of truth for keys, variables and flags. */
export const SERVE_SETTINGS: readonly ServeSetting[] = [
  {
    key: "port",
    env: "WARDEN_SERVE_PORT",
    flag: "--port",
    type: "port",
    description: "app port; 0 picks a free one (default 8787)",
  },
  {
    key: "host",
    env: "WARDEN_SERVE_HOST",
    flag: "--host",
    type: "host",
    description: "address the app port binds (default 127.0.0.1)",
  },
  {
    key: "adminPort",
    env: "WARDEN_SERVE_ADMIN_PORT",
    flag: "--admin-port",
    type: "port",
    description: "admin port (dashboard at /, /metrics, /health, /ready); 0 picks a free one (default 0)",
  },
  {
    key: "adminHost",
    env: "WARDEN_SERVE_ADMIN_HOST",
    flag: "--admin-host",
    type: "host",
    description: "address the admin port binds; not loopback: --admin-token is required (default 127.0.0.1)",
  },
  {
    key: "adminToken",
    env: "WARDEN_SERVE_ADMIN_TOKEN",
    flag: "--admin-token",
    type: "token",
    description: "token the admin port requires (Bearer or ?token=), but for /health and /ready (default none)",
  },
  {
    key: "engine",
    env: "WARDEN_SERVE_ENGINE",
    flag: "--engine",
    type: "engine",
    description: "v8 or quickjs (default v8)",
  },
  {
    key: "datastore",
    env: "WARDEN_SERVE_DATASTORE",
    flag: "--datastore",
    type: "datastore",
    description:
      "datastore behind the guests' datastore(name): memory:, sqlite:PATH or redis://HOST:PORT (default none)",
  },
  {
    key: "userFrom",
    env: "WARDEN_SERVE_USER_FROM",
    flag: "--user-from",
    type: "user",
    description: "the bulkhead's user key: ip, or header:NAME (default ip)",
  },
  {
    key: "drainTimeoutMs",
    env: "WARDEN_SERVE_DRAIN_TIMEOUT",
    flag: "--drain-timeout",
    type: "duration",
    description: "time in-flight requests get to finish on SIGTERM/SIGINT (default 10s)",
  },
  {
    key: "logLevel",
    env: "WARDEN_SERVE_LOG_LEVEL",
    flag: "--log-level",
    type: "level",
    description: `${LOG_LEVELS.join(", ")} (default info)`,
  },
  {
    key: "instances",
    env: "WARDEN_SERVE_INSTANCES",
    flag: "--instances",
    type: "count",
    description:
      "warm instances per app serving requests in parallel (default: v8 4 per CPU, at most 16; quickjs 2 per CPU, at most 8)",
  },
  {
    key: "headersTimeoutMs",
    env: "WARDEN_SERVE_HEADERS_TIMEOUT",
    flag: "--headers-timeout",
    type: "duration",
    description: "time a client has to send the request headers (default 10s)",
  },
  {
    key: "requestTimeoutMs",
    env: "WARDEN_SERVE_REQUEST_TIMEOUT",
    flag: "--request-timeout",
    type: "duration",
    description: "time a client has to send the whole request, body included (default 30s)",
  },
  {
    key: "watch",
    env: "WARDEN_SERVE_WATCH",
    flag: "--watch",
    type: "boolean",
    description:
      "reload an app when its file (or a file in its folder) changes, draining the old version (default off)",
  },
];

/** The effective settings, validated. */
export interface ServeSettings {
  readonly port: number;
  readonly host: string;
  readonly adminPort: number;
  readonly adminHost: string;
  readonly adminToken: string | undefined;
  readonly engine: EngineName;
  readonly datastore: string | undefined;
  readonly userFrom: UserFrom;
  readonly drainTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Undefined: the engine's default (see defaultInstances). */
  readonly instances: number | undefined;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly watch: boolean;
}

/** The built-in defaults. */
export function serveDefaults(): ServeSettings {
  return {
    port: 8787,
    host: "127.0.0.1",
    adminPort: 0,
    adminHost: "127.0.0.1",
    adminToken: undefined,
    engine: "v8",
    datastore: undefined,
    userFrom: { kind: "ip" },
    drainTimeoutMs: 10_000,
    logLevel: "info",
    instances: undefined,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    watch: false,
  };
}

/**
 * Per-request defaults of `warden serve` (DESIGN.md): they replace the profile's values of these
 * three limits unless the config file, the environment, a flag or an option set them.
 */
export const SERVE_LIMIT_DEFAULTS = { cpuTimeMs: 50, memoryBytes: 128_000_000, timeoutMs: 30_000 } as const;

/** One app's settings from the config file's `serve.apps.<name>`. */
export interface AppSettings {
  /** The app's `env` (JSON data). */
  readonly env: Record<string, unknown>;
  /** The app's limit overrides, validated (numbers in each limit's unit). */
  readonly limits: LimitOptions;
  /** Instances of this app, when set. */
  readonly instances: number | undefined;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function expected(type: SettingType): string {
  switch (type) {
    case "port":
      return "a whole number from 0 to 65535 (0 picks a free port)";
    case "host":
      return "a host name or IP address such as 127.0.0.1 or 0.0.0.0";
    case "engine":
      return `one of ${ENGINE_NAMES.join(", ")}`;
    case "datastore":
      return "memory:, sqlite:PATH (such as sqlite:./data.db) or redis://HOST:PORT";
    case "user":
      return "ip, or header:NAME such as header:x-api-key";
    case "duration":
      return `${EXPECTED_DURATION}, above 0`;
    case "level":
      return `one of ${LOG_LEVELS.join(", ")}`;
    case "count":
      return "a whole number of at least 1 such as 4";
    case "boolean":
      return "true or false (also 1/0, yes/no, on/off)";
    case "token":
      return "a token of 16 to 256 printable characters without spaces";
  }
}

/** Reads and validates one raw value of a setting; `source` names where it came from. */
export function parseServeValue(setting: ServeSetting, raw: unknown, source: string): unknown {
  const fail = (reason?: string): never => {
    throw new ConfigError({ source, value: raw, expected: expected(setting.type), ...(reason ? { reason } : {}) });
  };
  const text = typeof raw === "string" ? raw.trim() : undefined;
  switch (setting.type) {
    case "port":
    case "count": {
      const value = typeof raw === "number" ? raw : text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(value)) return fail("not a whole number");
      if (setting.type === "port" && (value < 0 || value > 65535)) return fail("out of range");
      if (setting.type === "count" && value < 1) return fail("below 1");
      return value;
    }
    case "host":
      if (!text || /[\s/]/.test(text)) return fail();
      return text;
    case "engine":
      if (!text || !(ENGINE_NAMES as readonly string[]).includes(text.toLowerCase())) return fail("unknown engine");
      return text.toLowerCase();
    case "datastore":
      if (!text || !/^(memory:|sqlite:.+|rediss?:\/\/.+)$/i.test(text)) return fail();
      return text;
    case "user": {
      if (text === "ip") return { kind: "ip" } satisfies UserFrom;
      const match = text === undefined ? null : /^header:(.+)$/i.exec(text);
      if (!match || !HEADER_NAME.test(match[1]!)) return fail();
      return { kind: "header", name: match[1]!.toLowerCase() } satisfies UserFrom;
    }
    case "duration": {
      if (typeof raw !== "string" && typeof raw !== "number") return fail("not a duration");
      let value: number;
      try {
        value = parseDuration(raw);
      } catch (error) {
        if (error instanceof UnitParseError) return fail(error.message);
        throw error;
      }
      if (!(value > 0)) return fail("must be above 0");
      return value;
    }
    case "level":
      if (!text || !(LOG_LEVELS as readonly string[]).includes(text.toLowerCase())) return fail("unknown log level");
      return text.toLowerCase();
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      const word = text?.toLowerCase();
      if (word !== undefined && ["true", "1", "yes", "on"].includes(word)) return true;
      if (word !== undefined && ["false", "0", "no", "off"].includes(word)) return false;
      return fail("not a boolean");
    }
    case "token":
      // The token itself is never shown in the error.
      if (typeof raw !== "string" || !/^[\x21-\x7e]{16,256}$/.test(raw)) {
        throw new ConfigError({ source, value: "***", expected: expected(setting.type) });
      }
      return raw;
  }
}

/** What {@link resolveServeSettings} reads; every layer is optional. */
export interface ServeSettingsInputs {
  /** The config file (already read), whose `serve` section is a layer. */
  file?: ConfigFile | undefined;
  /** Environment (`WARDEN_SERVE_*`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Raw CLI flag values by key. */
  flags?: Partial<Record<ServeSettingKey, string>>;
  /** API options. */
  options?: ServeSettingsOptions;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The config file's `serve` section, checked for shape; `undefined` when absent. */
function serveSection(file: ConfigFile | undefined): Record<string, unknown> | undefined {
  const section = file?.document["serve"];
  if (section === undefined) return undefined;
  if (!isObject(section)) {
    throw new ConfigError({
      source: `the file ${file!.path} key serve`,
      value: section,
      expected: 'an object of serve settings, such as {"port": 8787, "apps": {"hello": {"env": {}}}}',
    });
  }
  return section;
}

const SETTING_KEYS = SERVE_SETTINGS.map((s) => s.key).join(", ");

/**
 * Resolves the server's settings. Precedence, lowest first: built-in defaults, the config
 * file's `serve` section, the environment, CLI flags, API options. Throws a `ConfigError`
 * naming the source, the value and the expected form; a bad value changes nothing.
 */
export function resolveServeSettings(inputs: ServeSettingsInputs = {}): ServeSettings {
  const result: Record<string, unknown> = { ...serveDefaults() };
  const layers: { values: Record<string, unknown>; origin: (s: ServeSetting) => string; name: string }[] = [];
  const section = serveSection(inputs.file);
  if (section) {
    const values = { ...section };
    delete values["apps"];
    const path = inputs.file!.path;
    layers.push({ values, origin: (s) => `the file ${path} key serve.${s.key}`, name: `the file ${path} key serve` });
  }
  const env = inputs.env ?? {};
  const envValues: Record<string, unknown> = {};
  for (const s of SERVE_SETTINGS) if (env[s.env] !== undefined && env[s.env] !== "") envValues[s.key] = env[s.env];
  layers.push({ values: envValues, origin: (s) => `the variable ${s.env}`, name: "the environment" });
  layers.push({ values: inputs.flags ?? {}, origin: (s) => `the flag ${s.flag}`, name: "the command line" });
  layers.push({ values: { ...inputs.options }, origin: (s) => `the option ${s.key}`, name: "the serve options" });
  const parsed: [string, unknown][] = [];
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer.values)) {
      if (raw === undefined) continue;
      const setting = SERVE_SETTINGS.find((s) => s.key === key);
      if (!setting) {
        throw new ConfigError({
          source: layer.name,
          value: key,
          reason: `unknown serve setting ${JSON.stringify(key)}`,
          expected: `one of ${SETTING_KEYS}${layer.name.startsWith("the file") ? ", apps" : ""}`,
        });
      }
      parsed.push([key, parseServeValue(setting, raw, layer.origin(setting))]);
    }
  }
  for (const [key, value] of parsed) result[key] = value;
  const adminHost = result["adminHost"] as string;
  if (!isLoopbackHost(adminHost) && result["adminToken"] === undefined) {
    throw new ConfigError({
      source: "the setting adminHost",
      value: adminHost,
      expected: "a loopback address such as 127.0.0.1, or an admin token (--admin-token or WARDEN_SERVE_ADMIN_TOKEN)",
      reason: "the admin port would serve metrics and the dashboard beyond this machine without a token",
    });
  }
  return Object.freeze(result) as unknown as ServeSettings;
}

const APP_KEYS = ["env", "limits", "instances"];

/**
 * The config file's `serve.apps` section: per-app `env`, `limits` and `instances`, validated
 * (limit values by the limits table's rules, errors naming `serve.apps.<name>.limits.<key>`).
 */
export function resolveAppSettings(file: ConfigFile | undefined): ReadonlyMap<string, AppSettings> {
  const out = new Map<string, AppSettings>();
  const section = serveSection(file);
  const apps = section?.["apps"];
  if (apps === undefined) return out;
  const path = file!.path;
  if (!isObject(apps)) {
    throw new ConfigError({
      source: `the file ${path} key serve.apps`,
      value: apps,
      expected:
        'an object keyed by app name, such as {"hello": {"env": {"GREETING": "hi"}, "limits": {"cpuTimeMs": "100ms"}}}',
    });
  }
  for (const [name, raw] of Object.entries(apps)) {
    const where = `the file ${path} key serve.apps.${name}`;
    if (!isObject(raw))
      throw new ConfigError({ source: where, value: raw, expected: "an object with env, limits, instances" });
    for (const key of Object.keys(raw)) {
      if (!APP_KEYS.includes(key)) {
        throw new ConfigError({
          source: where,
          value: key,
          reason: "unknown key",
          expected: `one of ${APP_KEYS.join(", ")}`,
        });
      }
    }
    const env = raw["env"] ?? {};
    if (!isObject(env))
      throw new ConfigError({ source: `${where}.env`, value: env, expected: "an object of JSON data" });
    const limitsRaw = raw["limits"] ?? {};
    if (!isObject(limitsRaw)) {
      throw new ConfigError({
        source: `${where}.limits`,
        value: limitsRaw,
        expected: 'an object of limit keys, such as {"cpuTimeMs": "100ms"}',
      });
    }
    const limits: Record<string, number | boolean> = {};
    for (const [key, value] of Object.entries(limitsRaw)) {
      if (!isLimitKey(key)) {
        throw new ConfigError({
          source: `${where}.limits`,
          value: key,
          reason: `unknown limit key ${JSON.stringify(key)}`,
          expected: `one of ${LIMIT_DEFINITIONS.map((d) => d.key).join(", ")}`,
        });
      }
      limits[key] = parseLimitValue(definitionOf(key), value, `${where}.limits.${key}`);
    }
    const instances =
      raw["instances"] === undefined
        ? undefined
        : (parseServeValue(
            SERVE_SETTINGS.find((s) => s.key === "instances")!,
            raw["instances"],
            `${where}.instances`,
          ) as number);
    out.set(name, { env, limits: limits as LimitOptions, instances });
  }
  return out;
}
