/**
 * Resolves the bulkhead's effective settings from four layers, lowest
 * precedence first: built-in defaults, the config file's `bulkhead` section,
 * the environment, options given in code. Every value of every layer is
 * validated before anything is returned, so a bad value changes nothing.
 */
import { ConfigError } from "../errors/index.js";
import { readConfigFile, type ConfigFile } from "../limits/index.js";
import {
  BULKHEAD_DEFAULTS,
  BULKHEAD_SETTINGS,
  checkBulkheadRules,
  isBulkheadConfigKey,
  parseBulkheadValue,
  type BulkheadConfig,
  type BulkheadConfigKey,
  type BulkheadConfigOptions,
} from "./options.js";

/** Which layer set a value. */
export type BulkheadConfigSource = "default" | "config" | "env" | "option";

/** The effective settings plus where each came from. */
export interface ResolvedBulkheadConfig extends BulkheadConfig {
  /** Layer of each value. */
  readonly sources: Readonly<Record<BulkheadConfigKey, BulkheadConfigSource>>;
}

/** What {@link resolveBulkheadConfig} reads; every layer is optional. */
export interface BulkheadConfigInputs {
  /**
   * Environment to read; `false` ignores the environment.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>> | false;
  /** Options given in code; they win over every other layer. */
  options?: BulkheadConfigOptions;
  /**
   * The config file: an already read {@link ConfigFile}, a path (which must
   * exist), or `false` for none.
   * @default `warden.config.json` in `cwd` when it exists
   */
  file?: ConfigFile | string | false;
  /**
   * Directory for the config file lookup.
   * @default process.cwd()
   */
  cwd?: string;
}

const KEYS = BULKHEAD_SETTINGS.map((s) => s.key).join(", ");

interface Layer {
  source: BulkheadConfigSource;
  /** The layer as a whole, named when it holds an unknown key. */
  name: string;
  origin: (key: BulkheadConfigKey) => string;
  values: Map<string, unknown>;
}

function readLayer(layer: Layer): Map<BulkheadConfigKey, number | string> {
  const out = new Map<BulkheadConfigKey, number | string>();
  for (const [key, raw] of layer.values) {
    if (raw === undefined) continue;
    if (!isBulkheadConfigKey(key)) {
      throw new ConfigError({
        source: layer.name,
        value: key,
        reason: `unknown bulkhead setting ${JSON.stringify(key)}`,
        expected: `one of ${KEYS}`,
      });
    }
    const setting = BULKHEAD_SETTINGS.find((s) => s.key === key)!;
    out.set(key, parseBulkheadValue(setting, raw, layer.origin(key)));
  }
  return out;
}

function fileLayer(input: BulkheadConfigInputs): Layer | undefined {
  let file: ConfigFile | undefined;
  if (input.file === false) return undefined;
  if (typeof input.file === "object") file = input.file;
  else {
    file = readConfigFile({
      ...(input.file !== undefined ? { explicitPath: input.file } : {}),
      ...(input.cwd !== undefined ? { cwd: input.cwd } : {}),
    });
  }
  if (file === undefined) return undefined;
  const section = file.document["bulkhead"];
  if (section === undefined) return undefined;
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new ConfigError({
      source: `the file ${file.path} key bulkhead`,
      value: section,
      expected: 'an object of bulkhead settings, such as {"maxConcurrentPerUser": 3, "queueTimeoutMs": "30s"}',
    });
  }
  const path = file.path;
  return {
    source: "config",
    name: `the file ${path} key bulkhead`,
    origin: (key) => `the file ${path} key bulkhead.${key}`,
    values: new Map(Object.entries(section)),
  };
}

function envLayer(env: Readonly<Record<string, string | undefined>>): Layer {
  const values = new Map<string, unknown>();
  for (const setting of BULKHEAD_SETTINGS) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== "") values.set(setting.key, raw);
  }
  return {
    source: "env",
    name: "the environment",
    origin: (key) => `the variable ${BULKHEAD_SETTINGS.find((s) => s.key === key)!.env}`,
    values,
  };
}

function optionLayer(options: BulkheadConfigOptions | undefined): Layer {
  return {
    source: "option",
    name: "the bulkhead options",
    origin: (key) => `the option ${key}`,
    values: new Map(Object.entries(options ?? {})),
  };
}

/**
 * Resolves the effective bulkhead settings. Precedence, lowest first: defaults
 * ({@link BULKHEAD_DEFAULTS}), the config file's `bulkhead` section, the
 * environment (`WARDEN_BULKHEAD_*`), `options`. A bad value from any layer
 * throws a {@link ConfigError} naming its source, the value and the expected
 * form. The result is frozen.
 */
export function resolveBulkheadConfig(input: BulkheadConfigInputs = {}): ResolvedBulkheadConfig {
  const env = input.env === false ? {} : (input.env ?? process.env);
  const layers = [fileLayer(input), envLayer(env), optionLayer(input.options)].filter(
    (layer): layer is Layer => layer !== undefined,
  );
  // Validate every layer before merging, so a bad value changes nothing.
  const parsed = layers.map((layer) => ({ layer, values: readLayer(layer) }));

  const config: Record<string, unknown> = { ...BULKHEAD_DEFAULTS };
  const sources = {} as Record<BulkheadConfigKey, BulkheadConfigSource>;
  const origins = new Map<BulkheadConfigKey, string>();
  for (const setting of BULKHEAD_SETTINGS) sources[setting.key] = "default";
  for (const { layer, values } of parsed) {
    for (const [key, value] of values) {
      config[key] = value;
      sources[key] = layer.source;
      origins.set(key, layer.origin(key));
    }
  }
  // `store: "redis://..."` is `store: "redis"` with that URL, which wins over a redisUrl from any layer.
  if (typeof config["store"] === "string" && config["store"] !== "memory" && config["store"] !== "redis") {
    config["redisUrl"] = config["store"];
    config["store"] = "redis";
    sources.redisUrl = sources.store;
    origins.set("redisUrl", origins.get("store") ?? "the setting store");
  }
  const result = config as unknown as BulkheadConfig;
  checkBulkheadRules(result, (key) => origins.get(key) ?? `the default ${key}`);
  return Object.freeze({ ...result, sources: Object.freeze(sources) });
}
