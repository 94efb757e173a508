/**
 * `warden serve`: an HTTP server that runs untrusted Workers-style apps, one warm
 * sandbox app per file, every request a call under per-request limits.
 *
 * Why node:http rather than fastify: the front door works below a framework's
 * level. The connection cap must answer a real 503 on a socket before any request
 * is parsed (we accept on a paused `net.Server` and hand admitted sockets to the
 * HTTP server); the body must be counted while it streams, before anything buffers
 * it; and each request is one opaque `Request` -> `Response` hop into a sandbox,
 * with no routes, schemas or plugins for a framework to help with. node:http gives
 * exactly those hooks with nothing to switch off.
 */
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import type { EventEmitter } from "node:events";
import { pino, type Logger, type DestinationStream } from "pino";
import {
  AbortedError,
  isAbortedError,
  isLimitExceeded,
  isWardenError,
  LimitExceededError,
  EngineError,
  type WardenError,
} from "../errors/index.js";
import {
  overrideLimits,
  readConfigFile,
  resolveLimits,
  type ConfigFile,
  type LimitInputs,
  type LimitOptions,
  type ResolvedLimits,
} from "../limits/index.js";
import { createEngine, type Usage } from "../engine/index.js";
import { readFileSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { Runtime, type CallOptions, type LoadedApp, type LoadOptions } from "../runtime/index.js";
import { rawHeaderList, type FetchRequestData, type FetchResponseData } from "../runtime/fetch-data.js";
import { createDatastore, redactDatastoreUrl, type Datastore } from "../datastore/index.js";
import {
  createBulkhead,
  renderBulkheadError,
  type BulkheadConfigOptions,
  type BulkheadPermit,
} from "../bulkhead/index.js";
import { ConfigError } from "../errors/index.js";
import { discoverApps, listApps } from "./apps.js";
import { watchApps, type AppWatcher } from "./watch.js";
import { AppNotFoundError, ShuttingDownError } from "./errors.js";
import { createMetrics, METRIC_USERS, type ServeMetrics } from "./metrics.js";
import { BUSIEST_USERS, busiestUsers, createDashboard, type Dashboard } from "./dashboard.js";
import {
  resolveAppSettings,
  resolveServeSettings,
  SERVE_LIMIT_DEFAULTS,
  type ServeSettings,
  type ServeSettingsOptions,
  type ServeSettingKey,
  type UserFrom,
} from "./options.js";

/** Options of {@link startServer}. */
export interface StartServerOptions extends ServeSettingsOptions {
  /** A directory of apps, or one app file (resolved against `cwd`). */
  path: string;
  /** Limit inputs (profile, flags, options); the environment, config file and cwd default to the ones below. */
  limits?: LimitInputs;
  /** Bulkhead settings given in code or by flags (already validated by the caller or validated here). */
  bulkhead?: BulkheadConfigOptions;
  /** Raw CLI flag values of the serve settings (named as flags in errors). */
  flags?: Partial<Record<ServeSettingKey, string>>;
  /** Config file path; `false` ignores `warden.config.json`. @default ./warden.config.json when present */
  configFile?: string | false;
  /** Environment read for `WARDEN_*` variables. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory: the config file lookup, relative paths. @default process.cwd() */
  cwd?: string;
  /** Where the JSON log lines go. @default standard output */
  logDestination?: DestinationStream;
  /** Sandbox processes (V8) or worker threads (QuickJS) shared by the apps. @default the engine's */
  poolSize?: number;
}

/** A running server. */
export interface ServeHandle {
  /** The app port's base URL, such as `http://127.0.0.1:8787`. */
  readonly url: string;
  /** The admin listener's base URL (`/metrics`, `/health`, `/ready`). */
  readonly adminUrl: string;
  /** The effective settings. */
  readonly settings: ServeSettings;
  /** The effective default limits of every request (before per-app overrides). */
  readonly limits: ResolvedLimits;
  /** The apps served now, by name (`""` for a single-file app at `/`); under `--watch` apps come and go. */
  readonly apps: readonly string[];
  /** The server's logger. */
  readonly logger: Logger;
  /**
   * Drains and stops: stops accepting, answers requests still waiting in the bulkhead with 503,
   * lets running ones finish within `drainTimeoutMs` (then aborts them: 503), closes the
   * sandboxes, the bulkhead, the datastore and both listeners. Idempotent.
   */
  close(): Promise<void>;
}

/** A request's life, for the drain. */
interface Flight {
  /** Waiting for a bulkhead slot (queued) or running. */
  phase: "before" | "queued" | "running";
  controller: AbortController;
  done: Promise<void>;
}

/**
 * One loaded version of an app. With `--watch` a reload makes a new one; the old one is retired and
 * closed once the requests running on it (`running`) have finished.
 */
interface AppVersion {
  readonly app: LoadedApp;
  /** The module text it was loaded from. */
  readonly source: string;
  /** The module file it was loaded from. */
  readonly file: string;
  /** Requests running on it now. */
  running: number;
  /** Replaced by a newer version: closed when `running` reaches 0. */
  retired: boolean;
}

/** Datastore namespaces whose bytes the dashboard and the metrics show: the most recently opened. */
const NAMESPACES_SHOWN = 100;
/** Least time between two reads of the namespaces' bytes. */
const DATASTORE_READ_MS = 2_000;

/** The least CPU time an instance's load gets (requests keep their own, smaller budget). */
const LOAD_CPU_MS = 2_000;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Raw bytes of the 503 an over-cap connection gets before it is closed. */
function capacityResponse(limit: number): string {
  const error = new LimitExceededError({ kind: "connections", limit });
  const body = JSON.stringify({ status: error.status, error: error.code, message: error.message });
  return (
    `HTTP/1.1 ${error.status} Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nretry-after: 1\r\n\r\n${body}`
  );
}

/** The JSON body of an error answer: `{ status, error, message }`, plus the limit where one was hit. */
function errorBody(error: WardenError): Record<string, unknown> {
  return {
    status: error.status,
    error: error.code,
    message: error.message,
    ...(isLimitExceeded(error) ? { limit: error.kind, value: error.limit, unit: error.unit } : {}),
  };
}

/**
 * Reads the request body under `cap` bytes (0/-1: no cap), counting while it streams: past the
 * cap it rejects at once (the rest is read and dropped, and the answer closes the connection).
 */
function readBody(req: IncomingMessage, cap: number, signal: AbortSignal): Promise<Buffer | null> {
  if (req.method === "GET" || req.method === "HEAD") {
    req.resume();
    return Promise.resolve(null);
  }
  const declared = Number(req.headers["content-length"]);
  if (cap > 0 && Number.isFinite(declared) && declared > cap) {
    req.resume();
    return Promise.reject(new LimitExceededError({ kind: "value_size", limit: cap, observed: declared }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      signal.removeEventListener("abort", onGone);
      req.on("data", () => {}); // keep the connection's parser moving; the bytes are dropped
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (cap > 0 && size > cap) {
        stop();
        reject(new LimitExceededError({ kind: "value_size", limit: cap, observed: size }));
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      const empty = size === 0 && req.headers["content-length"] === undefined && !req.headers["transfer-encoding"];
      resolve(empty ? null : Buffer.concat(chunks));
    };
    const onGone = (): void => {
      stop();
      reject(new AbortedError("the client went away before sending its whole request"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onGone);
    req.on("close", onGone);
    signal.addEventListener("abort", onGone, { once: true });
  });
}

function userKey(req: IncomingMessage, from: UserFrom): string {
  if (from.kind === "ip") return `ip:${req.socket.remoteAddress ?? "unknown"}`;
  const value = req.headers[from.name];
  const text = Array.isArray(value) ? value[0] : value;
  // Requests without the header share one key: they are one anonymous user to the bulkhead.
  return text ? `${from.name}:${text.slice(0, 256)}` : "anonymous";
}

/**
 * Starts `warden serve`: resolves every setting (a bad one throws a `ConfigError` and nothing is
 * started), loads every app, and listens on the app port and the admin port.
 */
export async function startServer(options: StartServerOptions): Promise<ServeHandle> {
  const cwd = options.cwd ?? options.limits?.cwd ?? process.cwd();
  const env = options.env ?? options.limits?.env ?? process.env;
  const configPath = options.configFile ?? options.limits?.configFile;
  const file: ConfigFile | undefined =
    configPath === false
      ? undefined
      : readConfigFile({
          ...(configPath !== undefined ? { explicitPath: configPath } : {}),
          ...(options.limits?.configFileSource !== undefined
            ? { explicitSource: options.limits.configFileSource }
            : {}),
          cwd,
        });
  const {
    path,
    limits: limitInputs,
    bulkhead: bulkheadOptions,
    flags,
    logDestination,
    poolSize,
    ...settingOptions
  } = options;
  delete (settingOptions as Record<string, unknown>)["configFile"];
  delete (settingOptions as Record<string, unknown>)["env"];
  delete (settingOptions as Record<string, unknown>)["cwd"];
  const settings = resolveServeSettings({ file, env, flags: flags ?? {}, options: settingOptions });
  const base = resolveLimits({ ...limitInputs, env, cwd, configFile: file ? file.path : false });
  // The serve defaults replace the profile's for these three limits, unless set explicitly.
  const serveDefaults: LimitOptions = {};
  for (const [key, value] of Object.entries(SERVE_LIMIT_DEFAULTS) as [keyof typeof SERVE_LIMIT_DEFAULTS, number][]) {
    const source = base.entries[key].source;
    if (source === "default" || source === "profile") serveDefaults[key] = value;
  }
  const limits = overrideLimits(base, serveDefaults);
  const appSettings = resolveAppSettings(file);
  const sources = discoverApps(path, cwd);
  for (const name of appSettings.keys()) {
    if (!sources.some((app) => app.name === name) && !(name === "" && sources.length === 1)) {
      throw new ConfigError({
        source: `the file ${file!.path} key serve.apps`,
        value: name,
        reason: "no such app",
        expected: `one of ${sources.map((s) => JSON.stringify(s.name)).join(", ")}`,
      });
    }
  }
  if (settings.requestTimeoutMs < settings.headersTimeoutMs) {
    throw new ConfigError({
      source: "the setting requestTimeoutMs",
      value: settings.requestTimeoutMs,
      reason: `it is shorter than headersTimeoutMs (${settings.headersTimeoutMs}ms)`,
      expected: "a request timeout at least as long as the headers timeout",
    });
  }
  // Standard output, buffered: one write per 4 KiB of lines or 100 ms rather than one per request,
  // which woke the reader of a pipe each time (stdout piped to `cat`, 50 connections: 3,675-4,281
  // req/s with a write a line, 4,603-4,870 buffered). Flushed synchronously as the server closes.
  const ownDestination =
    logDestination === undefined
      ? pino.destination({ fd: 1, sync: false, minLength: 4096, periodicFlush: 100 })
      : undefined;
  const logger = pino(
    {
      level: settings.logLevel,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    logDestination ?? ownDestination,
  );
  const flushLogs = (): void => {
    if (ownDestination) ownDestination.flushSync();
    else logger.flush?.();
  };
  // The last check: the bulkhead is the first thing that holds a resource (closed in cleanup).
  // A shared store's connection losses and re-joins are server events, in the JSON log.
  const bulkhead = createBulkhead({
    ...bulkheadOptions,
    env,
    configFile: file ?? false,
    cwd,
    storeLog: (message) => logger.warn({ store: "redis" }, `bulkhead store: ${message}`),
  });

  // Everything opened from here is closed in `cleanup`, whatever fails.
  let datastore: Datastore | undefined;
  let runtime: Runtime | undefined;
  const apps = new Map<string, AppVersion>();
  const loadOptions = new Map<string, LoadOptions>();
  let watcher: AppWatcher | undefined;
  /** Per app: the reload under way, and whether another change came in meanwhile. */
  const reloads = new Map<string, { busy: Promise<void>; again: boolean }>();
  /** Closes a retired version once nothing runs on it (its instances go; the log says so). */
  const closeRetired = (name: string, version: AppVersion): void => {
    version.app.close().then(
      () => logger.info({ app: name, file: version.file }, "old version closed"),
      (error: unknown) => logger.warn({ app: name, errorMessage: String(error) }, "old version closed with an error"),
    );
  };
  const callLimits = new Map<string, LimitOptions>();
  let server: NetServer | undefined;
  let admin: ReturnType<typeof createHttpServer> | undefined;
  // Slow clients: Node answers 408 and closes a connection whose headers (or whole request) take
  // longer than these, checked every `connectionsCheckingInterval`.
  const http = createHttpServer({
    headersTimeout: settings.headersTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(settings.headersTimeoutMs / 4))),
  });
  // Node starts its connection tracking (the timeouts above, closeIdleConnections) on 'listening';
  // this server never listens itself (the net.Server in front hands it sockets), so start it here.
  http.emit("listening");
  const sockets = new Set<Socket>();
  const flights = new Set<Flight>();
  let running = 0;
  let draining = false;
  let metrics: ServeMetrics | undefined;
  let dashboard: Dashboard | undefined;
  /** Datastore namespaces guests opened, least recently opened first, and their bytes as last read. */
  const namespacesSeen = new Set<string>();
  const namespaceBytes = new Map<string, number>();
  let lastDatastoreRead = -Infinity;
  let readingDatastore = false;
  /** Per app: the latest request's peak sandbox memory. */
  const memoryLatest = new Map<string, number>();

  const cleanup = async (): Promise<void> => {
    const closing: Promise<unknown>[] = [];
    if (server?.listening) closing.push(new Promise((resolve) => server!.close(resolve)));
    if (admin?.listening) {
      admin.closeAllConnections();
      closing.push(new Promise((resolve) => admin!.close(resolve)));
    }
    watcher?.close();
    dashboard?.close();
    await Promise.all([...reloads.values()].map((r) => r.busy));
    http.closeAllConnections();
    // Stops Node's connection-checking timer (the server itself never listened).
    http.close(() => {});
    for (const socket of sockets) socket.destroy();
    await Promise.all(closing);
    await runtime?.close();
    await datastore?.close();
    await bulkhead.close();
    flushLogs();
  };

  try {
    // A shared store (Redis) that cannot be reached at start stops the start, as a bad setting does.
    try {
      await bulkhead.ready();
    } catch (error) {
      throw new ConfigError({
        source: "the bulkhead store",
        // The Redis the settings name (serve's store is always the setting's), its password hidden.
        value: bulkhead.config.store === "redis" ? redactDatastoreUrl(bulkhead.config.redisUrl) : bulkhead.config.store,
        reason: (error as Error).message,
        expected: "a Redis that is up and reachable from this machine",
        cause: error,
      });
    }
    if (settings.datastore !== undefined) {
      try {
        datastore = await createDatastore(settings.datastore, {
          maxDatastoreBytes: limits.values.maxDatastoreBytes,
          cwd,
        });
      } catch (error) {
        throw new ConfigError({
          source: "the setting datastore",
          value: redactDatastoreUrl(settings.datastore),
          expected: "memory:, sqlite:PATH (such as sqlite:./data.db) or redis://HOST:PORT",
          reason: (error as Error).message,
          cause: error,
        });
      }
    }
    const engine = await createEngine(settings.engine as "v8" | "quickjs", poolSize !== undefined ? { poolSize } : {});
    // Every namespace may be opened, as with "*"; the predicate also notes which ones guests use,
    // for the dashboard and the metrics (the most recently opened NAMESPACES_SHOWN).
    const namespacePolicy = (name: string): boolean => {
      namespacesSeen.delete(name);
      namespacesSeen.add(name);
      if (namespacesSeen.size > NAMESPACES_SHOWN) {
        const oldest = namespacesSeen.values().next().value as string;
        namespacesSeen.delete(oldest);
        namespaceBytes.delete(oldest);
      }
      return true;
    };
    runtime = new Runtime(engine, limits, {
      datastore: datastore ? { store: datastore, namespaces: namespacePolicy } : undefined,
    });
    // A call that crossed `warnAt` of a budget (the runtime's warning event names the app's file).
    const appByFile = new Map(sources.map((app) => [app.file, app.name]));
    runtime.on("warning", (warning) =>
      logger.warn(
        {
          app: appByFile.get(warning.filename) ?? null,
          budget: warning.budget,
          fraction: warning.fraction,
          value: warning.limit,
        },
        "budget warning",
      ),
    );
    /** Notes an app's load options and call limits (at start, and for an app added under --watch). */
    const prepare = (name: string, file: string): LoadOptions => {
      const own = appSettings.get(name);
      const appLimits = overrideLimits(limits, own?.limits);
      // A request's CPU budget is small (50ms by default) and loading an instance (an isolate or a
      // worker, the platform layer, the module) may cost more under load: instances load under at
      // least LOAD_CPU_MS, and every request gets its own budget as a call override.
      const cpu = appLimits.values.cpuTimeMs;
      callLimits.set(name, { cpuTimeMs: cpu });
      const options: LoadOptions = {
        filename: file,
        limits: { ...own?.limits, cpuTimeMs: cpu > 0 ? Math.max(cpu, LOAD_CPU_MS) : cpu },
        instances: own?.instances ?? settings.instances,
        env: own?.env ?? {},
      };
      loadOptions.set(name, options);
      return options;
    };
    for (const app of sources) {
      const options = prepare(app.name, app.file);
      const loaded = await runtime.load(app.source, options);
      apps.set(app.name, { app: loaded, source: app.source, file: app.file, running: 0, retired: false });
      logger.info({ app: app.name, file: app.file, instances: loaded.maxInstances }, "app loaded");
    }

    const store = datastore;
    /** Bytes per namespace as last read, the most recently opened namespace last. */
    const lastBytes = (): { namespace: string; bytes: number }[] | undefined =>
      store
        ? [...namespacesSeen].flatMap((name) => {
            const bytes = namespaceBytes.get(name);
            return bytes === undefined ? [] : [{ namespace: name, bytes }];
          })
        : undefined;
    /** Bytes per namespace as last read; a read starts at most every DATASTORE_READ_MS, in the background. */
    const datastoreBytes = (): { namespace: string; bytes: number }[] | undefined => {
      if (!store) return undefined;
      if (!readingDatastore && !draining && performance.now() - lastDatastoreRead >= DATASTORE_READ_MS) {
        readingDatastore = true;
        lastDatastoreRead = performance.now();
        void (async () => {
          for (const name of [...namespacesSeen]) {
            try {
              const bytes = await store.namespace(name).size();
              if (namespacesSeen.has(name)) namespaceBytes.set(name, bytes);
            } catch {
              // a failing read keeps the last value; the next read tries again
            }
          }
        })().finally(() => (readingDatastore = false));
      }
      return lastBytes();
    };
    const users = (limit: number) => (bulkhead.closed ? [] : busiestUsers(bulkhead.stats().users, limit));
    /** The shared bulkhead store's health (undefined for the in-memory store), for the metrics and /ready. */
    const storeHealth = () => (bulkhead.closed ? undefined : bulkhead.stats().store);
    /** Requests holding a bulkhead slot and waiting for one, for the metrics and the dashboard. */
    const bulkheadLoad = () => {
      if (bulkhead.closed) return { running: 0, queued: 0 };
      const stats = bulkhead.stats();
      return { running: stats.globalConcurrent, queued: stats.globalQueued + stats.globalBlocked };
    };
    metrics = createMetrics({
      busiestUsers: () => users(METRIC_USERS),
      sandboxMemory: () => [...memoryLatest].map(([app, bytes]) => ({ app, bytes })),
      // The metrics show the bytes as last read; only the dashboard's ticks start a read.
      datastoreBytes: lastBytes,
      openConnections: () => sockets.size,
      runsInFlight: () => running,
      bulkhead: bulkheadLoad,
      bulkheadStore: storeHealth,
    });
    const m = metrics;
    dashboard = createDashboard(
      {
        apps: () => [...apps].map(([name, v]) => ({ name, maxInstances: v.app.maxInstances, stats: v.app.stats() })),
        runsInFlight: () => running,
        bulkhead: bulkheadLoad,
        openConnections: () => sockets.size,
        draining: () => draining,
        busiestUsers: () => users(BUSIEST_USERS),
        datastoreBytes,
      },
      { token: settings.adminToken },
    );
    const board = dashboard;

    // --watch: a changed app is loaded again beside the serving version; once it loaded, new
    // requests go to it and the old version closes when its last running request finished. A
    // version that fails to load (or to be read) leaves the old one serving. In a directory, an
    // app that appears is loaded and served (unless it fails to load), and one that goes is no
    // longer routed to, its version closed like a replaced one.
    const root = resolvePath(cwd, path);
    const reloadOnce = async (name: string): Promise<void> => {
      if (draining) return;
      const current = apps.get(name);
      // In a directory, the app's module file on disk now: an app may have come or gone.
      let file = current?.file;
      if (!single) {
        let found: string[] | undefined;
        try {
          found = listApps(root).get(name);
        } catch (error) {
          logger.error({ dir: root, errorMessage: (error as Error).message }, "watch failed");
          return;
        }
        if (found !== undefined && found.length > 1) {
          // Two entries claim the name: nothing changes until one of them goes.
          const error = `two apps are named ${JSON.stringify(name)}: ${found.join(", ")}`;
          if (current) m.reloads.inc({ app: name, result: "failed" });
          logger.error(
            { app: name, file: found[0], error: null, errorMessage: error },
            current ? "app reload failed" : "app load failed",
          );
          return;
        }
        file = found?.[0];
      }
      if (file === undefined) {
        if (current === undefined) return;
        // Removed: new requests get a 404; the running ones finish, then its instances close.
        apps.delete(name);
        memoryLatest.delete(name);
        current.retired = true;
        if (current.running === 0) closeRetired(name, current);
        logger.info({ app: name, file: current.file, drainingRequests: current.running }, "app removed");
        return;
      }
      const failed = (error: unknown): void => {
        if (current) m.reloads.inc({ app: name, result: "failed" });
        const typed = isWardenError(error) ? error : undefined;
        logger.error(
          { app: name, file, error: typed?.code ?? null, errorMessage: (error as Error).message ?? String(error) },
          current ? "app reload failed" : "app load failed",
        );
      };
      const folder = name !== "" && dirname(file) !== root;
      let source: string;
      try {
        source = readFileSync(file, "utf8");
      } catch (error) {
        failed(error);
        return;
      }
      // A file app whose text did not change (a touch, a save of the same text) is not reloaded.
      if (current && !folder && file === current.file && source === current.source) return;
      let loaded: LoadedApp;
      try {
        const options = current ? { ...loadOptions.get(name)!, filename: file } : prepare(name, file);
        loaded = await runtime!.load(source, options);
      } catch (error) {
        failed(error);
        return;
      }
      if (draining) {
        await loaded.close();
        return;
      }
      apps.set(name, { app: loaded, source, file, running: 0, retired: false });
      appByFile.set(file, name);
      if (!current) {
        logger.info({ app: name, file, instances: loaded.maxInstances }, "app added");
        return;
      }
      current.retired = true;
      if (current.running === 0) closeRetired(name, current);
      m.reloads.inc({ app: name, result: "ok" });
      logger.info(
        { app: name, file, instances: loaded.maxInstances, drainingRequests: current.running },
        "app reloaded",
      );
    };
    const reload = (name: string): void => {
      const state = reloads.get(name);
      if (state) {
        state.again = true;
        return;
      }
      const next = { busy: Promise.resolve(), again: false };
      next.busy = (async () => {
        do {
          next.again = false;
          await reloadOnce(name);
        } while (next.again && !draining);
      })()
        .catch((error: unknown) => logger.error({ app: name, errorMessage: String(error) }, "app reload failed"))
        .finally(() => reloads.delete(name));
      reloads.set(name, next);
    };
    const single = sources.length === 1 && sources[0]!.name === "";
    const maxConnections = limits.values.maxConnections;

    // The connection cap: sockets are accepted paused; over the cap they get a 503 and are closed.
    server = createNetServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
      if (maxConnections > 0 && sockets.size >= maxConnections) {
        m.rejections.inc({ status: "503" });
        board.refusedConnection();
        logger.warn({ limit: "connections", value: maxConnections }, "connection refused: over the cap");
        // Read (and drop) what the client sends, so that closing never resets the 503 away.
        socket.on("data", () => {});
        socket.on("error", () => {});
        socket.resume();
        socket.end(capacityResponse(maxConnections));
        setTimeout(() => socket.destroy(), 2_000).unref();
        return;
      }
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      http.emit("connection", socket);
      socket.resume();
    });

    const send = (
      res: ServerResponse,
      status: number,
      headers: Record<string, string>,
      body: string | Uint8Array | null,
    ): void => {
      if (res.headersSent || res.destroyed) return;
      if (draining) headers["connection"] = "close";
      res.writeHead(status, headers);
      res.end(body ?? undefined);
    };
    const sendError = (
      res: ServerResponse,
      requestId: string,
      error: WardenError,
      extra: Record<string, string> = {},
    ) => {
      send(
        res,
        error.status,
        { "content-type": "application/json; charset=utf-8", "x-request-id": requestId, ...extra },
        JSON.stringify(errorBody(error)),
      );
    };

    http.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      const header = req.headers["x-request-id"];
      const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
      const rawUrl = req.url ?? "/";
      const pathname = rawUrl.split("?")[0]!;
      // Ends the request: the client went away before it ran, or the server shuts down.
      const controller = new AbortController();
      // The client went away while the request ran: a call still waiting for an instance is given
      // up, one in its sandbox runs to its end within its budgets (stopping it would cost its
      // instance, which a client could then make the server reload at will), its answer unsent.
      const clientGone = new AbortController();
      let resolveDone!: () => void;
      const flight: Flight = { phase: "before", controller, done: new Promise((r) => (resolveDone = r)) };
      flights.add(flight);
      res.once("close", () => {
        if (res.writableFinished) return;
        const reason = new AbortedError("the client went away");
        if (flight.phase === "running") clientGone.abort(reason);
        else controller.abort(reason);
      });

      let appName: string | undefined;
      let user: string | undefined;
      let limitHit: string | undefined;
      let usage: Usage | undefined;
      let failure: WardenError | undefined;
      const finish = (status: number): void => {
        flights.delete(flight);
        resolveDone();
        const durationMs = performance.now() - started;
        const app = appName ?? "-";
        m.requests.inc({ app, status: String(status) });
        m.duration.observe({ app }, durationMs / 1000);
        if (usage) m.cpu.observe({ app }, usage.cpuMs / 1000);
        if (usage && appName !== undefined && usage.peakMemoryBytes > 0) memoryLatest.set(app, usage.peakMemoryBytes);
        if (status === 429 || status === 408 || status === 503) {
          if (failure && !isLimitExceeded(failure)) m.rejections.inc({ status: String(status) });
        }
        if (limitHit) m.limitHits.inc({ app, kind: limitHit });
        board.record({
          app,
          status,
          durationMs,
          requestId,
          rejected:
            (status === 429 || status === 408 || status === 503) && failure !== undefined && !isLimitExceeded(failure),
          limit: limitHit,
          limitValue: limitHit && failure && isLimitExceeded(failure) ? failure.limit : undefined,
          memoryBytes: usage && usage.peakMemoryBytes > 0 ? usage.peakMemoryBytes : undefined,
        });
        const line = {
          app: appName ?? null,
          requestId,
          method: req.method,
          path: pathname,
          status,
          durationMs: Math.round(durationMs * 100) / 100,
          cpuMs: usage ? Math.round(usage.cpuMs * 100) / 100 : null,
          memoryBytes: usage ? usage.peakMemoryBytes : null,
          user: user ?? null,
          ...(limitHit ? { limit: limitHit } : {}),
          ...(failure ? { error: failure.code, errorMessage: failure.message } : {}),
        };
        if (status >= 500) logger.warn(line, "request");
        else logger.info(line, "request");
      };

      const handle = async (): Promise<number> => {
        if (draining) throw new ShuttingDownError();
        // Routing: a lookup in the table of apps loaded, never a file-system path.
        let inner: string;
        if (single) {
          appName = "";
          // Origin-form only (`/path?query`); `*` and absolute-form targets match no app.
          if (!rawUrl.startsWith("/")) throw new AppNotFoundError(pathname);
          inner = rawUrl;
        } else {
          const match = /^\/([^/?]+)(.*)$/.exec(rawUrl);
          const name = match ? decodeURIComponentSafe(match[1]!) : undefined;
          if (name === undefined || !apps.has(name)) throw new AppNotFoundError(pathname);
          appName = name;
          inner = match![2] === "" || match![2]!.startsWith("?") ? `/${match![2]}` : match![2]!;
        }
        // The app's limits are the config's, the same for every version of it.
        const { limits: appLimits } = apps.get(appName)!.app;
        // Body cap, counted while the body streams, before it reaches a sandbox or the bulkhead.
        const body = await readBody(req, appLimits.values.maxValueBytes, controller.signal);
        user = userKey(req, settings.userFrom);
        flight.phase = "queued";
        let permit: BulkheadPermit;
        try {
          permit = await bulkhead.acquire(user, { signal: controller.signal });
        } catch (error) {
          if (draining && (isAbortedError(error) || (isWardenError(error) && error.code === "WARDEN_DISPOSED"))) {
            throw new ShuttingDownError();
          }
          throw error;
        }
        flight.phase = "running";
        // The request runs on the version current now; a reload meanwhile lets it finish there.
        const version = apps.get(appName);
        if (version === undefined) {
          // Removed (--watch) while the request waited.
          permit.release();
          throw new AppNotFoundError(pathname);
        }
        running++;
        const app = version.app;
        version.running++;
        try {
          const host =
            typeof req.headers.host === "string" && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host)
              ? req.headers.host
              : "localhost";
          // Joined as text, not resolved: `//other.host/x` stays a path of this host. The request
          // goes in as data (no Request built only to be taken apart again); headers the Fetch
          // API refuses stay out.
          const request: FetchRequestData = {
            method: req.method ?? "GET",
            url: new URL(`http://${host}${inner}`).href,
            headers: rawHeaderList(req.rawHeaders),
            body,
          };
          const recycledBefore = app.stats().recycled;
          let response: FetchResponseData;
          try {
            // `onUsage` is the call's usage report, for the log line, the CPU histogram and the
            // sandbox memory (the dashboard, warden_sandbox_memory_bytes).
            const callOptions: CallOptions & { onUsage?: (usage: Usage) => void } = {
              limits: callLimits.get(appName)!,
              signal: controller.signal,
              waitSignal: clientGone.signal,
              onConsole: (level, text) => logger.info({ app: appName, requestId, console: level, text }, "console"),
              onUsage: (reported) => (usage = reported),
            };
            response = await app.fetchData(request, callOptions);
          } finally {
            if (app.stats().recycled > recycledBefore) logger.info({ app: appName, requestId }, "instance recycled");
          }
          if (clientGone.signal.aborted) throw clientGone.signal.reason;
          // A header list: names in lower case, each once but `set-cookie` (one entry per cookie).
          const out: Record<string, string> = Object.create(null) as Record<string, string>;
          const cookies: string[] = [];
          for (const [name, value] of response.headers) {
            if (name === "set-cookie") cookies.push(value);
            else out[name] = value;
          }
          const bytes = response.body;
          out["x-request-id"] = requestId;
          out["content-length"] = String(bytes.length);
          if (draining) out["connection"] = "close";
          if (res.headersSent || res.destroyed) return response.status;
          res.writeHead(
            response.status,
            response.statusText || undefined,
            cookies.length ? { ...out, "set-cookie": cookies } : out,
          );
          res.end(req.method === "HEAD" ? undefined : bytes);
          return response.status;
        } catch (error) {
          if (draining && isAbortedError(error))
            throw new ShuttingDownError("the server shut down before the request finished");
          throw error;
        } finally {
          running--;
          permit.release();
          if (--version.running === 0 && version.retired) closeRetired(appName, version);
        }
      };

      handle().then(
        (status) => finish(status),
        (error: unknown) => {
          const typed = isWardenError(error) ? error : new EngineError(String(error), { cause: error });
          failure = typed;
          if (isLimitExceeded(typed)) limitHit = typed.kind;
          const rendered = renderBulkheadError(typed);
          if (rendered) {
            send(
              res,
              rendered.status,
              { ...rendered.headers, "content-type": "application/json; charset=utf-8", "x-request-id": requestId },
              JSON.stringify(rendered.body),
            );
          } else {
            // A body over the cap that was not read: the connection cannot be reused.
            const extra: Record<string, string> =
              isLimitExceeded(typed) && typed.kind === "value_size" && !req.complete ? { connection: "close" } : {};
            if (typed.code === "WARDEN_SHUTTING_DOWN") extra["retry-after"] = "1";
            sendError(res, requestId, typed, extra);
          }
          if (typed.code === "WARDEN_ENGINE_ERROR") {
            logger.error({ app: appName ?? null, requestId, err: typed.message }, "sandbox failure");
          }
          finish(rendered ? rendered.status : typed.status);
        },
      );
    });

    // Admin listener: the dashboard, metrics and health (loopback unless configured), never on the app port.
    admin = createHttpServer((req, res) => {
      if (board.handle(req, res)) return;
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        m.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": m.registry.contentType }).end(text),
          (error: unknown) => res.writeHead(500).end(String(error)),
        );
      } else if (path === "/health") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
      } else if (path === "/ready") {
        // Not ready while draining, or while a shared bulkhead store is away and every request would get 503.
        const store = storeHealth();
        const status = draining ? "draining" : store?.state === "unavailable" ? "store_unavailable" : "ready";
        res
          .writeHead(status === "ready" ? 200 : 503, { "content-type": "application/json" })
          .end(JSON.stringify({ status, apps: apps.size }));
      } else {
        res
          .writeHead(404, { "content-type": "application/json" })
          .end(JSON.stringify({ status: 404, error: "not_found" }));
      }
    });

    await listen(server, settings.port, settings.host);
    await listen(admin, settings.adminPort, settings.adminHost);
    if (settings.watch) {
      watcher = watchApps(root, reload, (dir, error) =>
        logger.error({ dir, errorMessage: error.message }, "watch failed"),
      );
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const hostForUrl = (host: string) => (host.includes(":") ? `[${host}]` : host);
  const url = `http://${hostForUrl(settings.host)}:${(server.address() as AddressInfo).port}`;
  const adminUrl = `http://${hostForUrl(settings.adminHost)}:${(admin.address() as AddressInfo).port}`;
  logger.info({ url, adminUrl, apps: [...apps.keys()], engine: settings.engine, watch: settings.watch }, "listening");
  // Whoever waits for this line (a supervisor, a test) gets it now, not with the next 4 KiB.
  flushLogs();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      watcher?.close();
      logger.info({ inFlight: flights.size, drainTimeoutMs: settings.drainTimeoutMs }, "draining");
      server!.close();
      http.closeIdleConnections();
      // Waiting requests are answered 503 at once; running ones get the drain timeout.
      for (const flight of flights) if (flight.phase === "queued") flight.controller.abort(new ShuttingDownError());
      const all = Promise.all([...flights].map((f) => f.done));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), settings.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn({ inFlight: flights.size }, "drain timeout: aborting the requests still running");
        for (const flight of flights) flight.controller.abort(new ShuttingDownError());
        await Promise.race([
          Promise.all([...flights].map((f) => f.done)),
          new Promise((r) => setTimeout(r, 2_000).unref()),
        ]);
      }
      await cleanup();
      logger.info({}, "stopped");
      flushLogs();
    })();
    return closing;
  };

  return {
    url,
    adminUrl,
    settings,
    limits,
    get apps() {
      return [...apps.keys()];
    },
    logger,
    close,
  };
}

function decodeURIComponentSafe(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function listen(
  server: EventEmitter & { listen(port: number, host: string): unknown },
  port: number,
  host: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        new ConfigError({
          source: `listening on ${host}:${port}`,
          value: port,
          expected: "a free port (or 0)",
          reason: error.message,
          cause: error,
        }),
      );
    server.once("error", onError);
    server.once("listening", () => {
      server.off("error", onError);
      resolve();
    });
    server.listen(port, host);
  });
}
