/**
 * The live dashboard of `warden serve`, on the admin listener at `/`: one page
 * (no build step: plain HTML and a script served from here, with uPlot's
 * prebuilt bundle read from the npm package, never a CDN) that follows the
 * server through server-sent events at `/dashboard/events`, one snapshot a
 * second. The server feeds it with {@link Dashboard.record} as requests end;
 * everything else (apps, instances, the bulkhead, runs in flight) is read
 * from live sources at each tick.
 *
 * It also guards the admin listener: with a token (`--admin-token`, required
 * when the admin host is not loopback), every admin path but `/health`,
 * `/ready` and the page's static files needs it, as `Authorization: Bearer
 * TOKEN` or `?token=TOKEN`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AppStats } from "../runtime/index.js";
import { formatSizeApprox } from "../units/index.js";
import { DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_STYLE } from "./dashboard-page.js";

/** Live numbers the dashboard reads at each tick. */
export interface DashboardSources {
  /** The apps served now (after a reload, the serving version), with their instance counters. */
  apps(): { name: string; maxInstances: number; stats: AppStats }[];
  /** Requests running in a sandbox now. */
  runsInFlight(): number;
  /** Bulkhead counters: requests holding a slot and waiting for one. */
  bulkhead(): { running: number; queued: number };
  /** Open connections of the app port. */
  openConnections(): number;
  /** True once the server drains. */
  draining(): boolean;
  /** The bulkhead's busiest users (the page shows the first {@link BUSIEST_USERS}). */
  busiestUsers?(): BusyUser[];
  /**
   * Bytes per datastore namespace guests opened, as last read (`undefined` without a datastore).
   * Called once per tick; the server reads the store itself, not more often than every 2 s.
   */
  datastoreBytes?(): { namespace: string; bytes: number }[] | undefined;
}

/** A bulkhead user as the page and the metrics show it. */
export interface BusyUser {
  /** The user key (`ip:ADDRESS`, `HEADER:VALUE` or `anonymous`). */
  user: string;
  /** Requests holding a slot. */
  running: number;
  /** Requests waiting for one. */
  queued: number;
}

/** Users the page lists. */
export const BUSIEST_USERS = 5;

/**
 * The `limit` busiest of the bulkhead's users: by running + queued, then the most recently active
 * (users idle for less than the bulkhead's idle TTL are still listed, with zeros).
 */
export function busiestUsers(
  users: readonly { userId: string; concurrent: number; queued: number; blocked: number; lastActivity: number }[],
  limit: number,
): BusyUser[] {
  return users
    .map((u) => ({ user: u.userId, running: u.concurrent, queued: u.queued + u.blocked, last: u.lastActivity }))
    .sort((a, b) => b.running + b.queued - (a.running + a.queued) || b.last - a.last || (a.user < b.user ? -1 : 1))
    .slice(0, limit)
    .map(({ user, running, queued }) => ({ user, running, queued }));
}

/** A request that ended, as the server reports it. */
export interface RequestRecord {
  /** The app's name (`"-"` when no app matched). */
  app: string;
  status: number;
  durationMs: number;
  requestId: string;
  /** Turned away before running (queue full 429, queue timeout 408, draining 503), as warden_http_rejections_total counts. */
  rejected?: boolean | undefined;
  /** The limit kind, when the request ended in a limit error. */
  limit?: string | undefined;
  /** The limit's value, in its unit. */
  limitValue?: number | undefined;
  /** The run's peak memory in its sandbox (bytes), when the runtime reported the call's usage. */
  memoryBytes?: number | undefined;
}

/** One second of the server's life, as the page charts it. */
export interface DashboardTick {
  /** Seconds since the epoch. */
  t: number;
  /** Per app: requests answered in this second, and p50/p99 latency (ms) over the last 5 seconds (null without requests). */
  apps: Record<string, { rps: number; p50: number | null; p99: number | null }>;
  /** Requests turned away in this second, by status (503 includes connections refused over the cap; limit errors are not counted here). */
  rejected: { "429": number; "408": number; "503": number };
  bulkhead: { running: number; queued: number };
  inFlight: number;
  connections: number;
}

/** A limit hit as the page lists it. */
export interface LimitHit {
  /** Milliseconds since the epoch. */
  time: number;
  app: string;
  requestId: string;
  kind: string;
  value: number | null;
}

/** What the page gets every second. */
export interface DashboardState {
  tick: DashboardTick;
  draining: boolean;
  apps: {
    name: string;
    maxInstances: number;
    stats: AppStats;
    requests: number;
    errors: number;
    /** Peak memory of the app's sandbox runs: the latest request's, and the highest over the last minute (null before any). */
    memory: { latestBytes: number; maxBytes: number | null; latest: string; max: string | null } | null;
  }[];
  /** The bulkhead's busiest users (at most {@link BUSIEST_USERS}). */
  users: BusyUser[];
  /** Bytes per datastore namespace guests opened, largest first; null without a datastore. */
  datastore: { namespace: string; bytes: number; size: string }[] | null;
  limits: { byKind: Record<string, number>; latest: LimitHit[] };
  totals: { requests: number; "429": number; "408": number; "503": number };
}

/** The dashboard of one server. */
export interface Dashboard {
  /** Counts a request that ended. */
  record(request: RequestRecord): void;
  /** Counts a connection refused over the cap (a 503 before any request). */
  refusedConnection(): void;
  /**
   * Serves the dashboard's paths and checks the admin token; true when it answered (the page, its
   * files, the events, or a 401), false when the caller serves the path (`/metrics`, `/health`, ...).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** A snapshot of the state the page shows. */
  state(): DashboardState;
  /** Stops the ticks and ends the event streams. */
  close(): void;
}

/** Seconds of history the page gets on connect. */
const HISTORY_SECONDS = 300;
/** Seconds of samples a latency percentile covers. */
const LATENCY_WINDOW = 5;
/** Latency samples kept per app per second (past it, one in N is kept). */
const SAMPLES_PER_SECOND = 2000;
const LATEST_HITS = 10;
/** Seconds over which an app's highest memory is kept. */
const MEMORY_WINDOW = 60;

/** Paths served without the admin token: probes and the page's static files (they hold no data). */
const OPEN_PATHS = new Set([
  "/health",
  "/ready",
  "/dashboard/uPlot.iife.min.js",
  "/dashboard/uPlot.min.css",
  "/dashboard/dashboard.js",
  "/dashboard/dashboard.css",
]);

/** True for a host name or address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** True when the request carries `token` as a bearer token or `?token=` (compared in constant time). */
export function hasAdminToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  const bearer =
    typeof header === "string" && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, "").trim() : undefined;
  const query = new URL(req.url ?? "/", "http://admin").searchParams.get("token") ?? undefined;
  const given = bearer ?? query;
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 100) / 100;
}

let uplot: { js: Buffer; css: Buffer } | undefined;
function uplotFiles(): { js: Buffer; css: Buffer } {
  if (!uplot) {
    const require = createRequire(import.meta.url);
    uplot = {
      js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js")),
      css: readFileSync(require.resolve("uplot/dist/uPlot.min.css")),
    };
  }
  return uplot;
}

/** Creates the dashboard and starts its one-second ticks (an unref'd timer). */
export function createDashboard(sources: DashboardSources, options: { token?: string | undefined } = {}): Dashboard {
  const token = options.token;
  const history: DashboardTick[] = [];
  /** Per app: counts of this second, latency samples of the last seconds, totals. */
  const perApp = new Map<
    string,
    {
      count: number;
      seen: number;
      samples: number[][];
      requests: number;
      errors: number;
      /** The latest request's peak memory, and the highest per second over the last minute. */
      memory: { latest: number; seconds: { t: number; max: number }[] } | undefined;
    }
  >();
  let datastoreRows: DashboardState["datastore"] = null;
  let rejected = { "429": 0, "408": 0, "503": 0 };
  const totals = { requests: 0, "429": 0, "408": 0, "503": 0 };
  const byKind: Record<string, number> = {};
  const latest: LimitHit[] = [];
  const clients = new Set<ServerResponse>();

  const appEntry = (name: string) => {
    let entry = perApp.get(name);
    if (!entry) {
      entry = { count: 0, seen: 0, samples: [[]], requests: 0, errors: 0, memory: undefined };
      perApp.set(name, entry);
    }
    return entry;
  };

  const record = (request: RequestRecord): void => {
    const entry = appEntry(request.app);
    entry.count++;
    entry.seen++;
    entry.requests++;
    if (request.status >= 500) entry.errors++;
    const current = entry.samples[entry.samples.length - 1]!;
    if (current.length < SAMPLES_PER_SECOND) current.push(request.durationMs);
    else current[entry.seen % SAMPLES_PER_SECOND] = request.durationMs;
    totals.requests++;
    if (request.memoryBytes !== undefined && request.memoryBytes > 0) {
      const t = Math.floor(Date.now() / 1000);
      entry.memory ??= { latest: 0, seconds: [] };
      entry.memory.latest = request.memoryBytes;
      const last = entry.memory.seconds[entry.memory.seconds.length - 1];
      if (last?.t === t) last.max = Math.max(last.max, request.memoryBytes);
      else entry.memory.seconds.push({ t, max: request.memoryBytes });
      while (entry.memory.seconds.length > 0 && entry.memory.seconds[0]!.t <= t - MEMORY_WINDOW)
        entry.memory.seconds.shift();
    }
    if (request.rejected && (request.status === 429 || request.status === 408 || request.status === 503)) {
      rejected[request.status]++;
      totals[request.status]++;
    }
    if (request.limit) {
      byKind[request.limit] = (byKind[request.limit] ?? 0) + 1;
      latest.unshift({
        time: Date.now(),
        app: request.app,
        requestId: request.requestId,
        kind: request.limit,
        value: request.limitValue ?? null,
      });
      latest.length = Math.min(latest.length, LATEST_HITS);
    }
  };

  const appsNow = () => {
    const names = new Set<string>();
    const out: DashboardState["apps"] = [];
    for (const app of sources.apps()) {
      names.add(app.name);
      const entry = perApp.get(app.name);
      out.push({ ...app, requests: entry?.requests ?? 0, errors: entry?.errors ?? 0, memory: memoryOf(entry?.memory) });
    }
    return { names, out };
  };

  const memoryOf = (memory: { latest: number; seconds: { t: number; max: number }[] } | undefined) => {
    if (!memory) return null;
    const since = Math.floor(Date.now() / 1000) - MEMORY_WINDOW;
    let max: number | null = null;
    for (const second of memory.seconds) if (second.t > since) max = Math.max(max ?? 0, second.max);
    return {
      latestBytes: memory.latest,
      maxBytes: max,
      latest: formatSizeApprox(memory.latest),
      max: max === null ? null : formatSizeApprox(max),
    };
  };

  const readDatastore = () => {
    let rows: { namespace: string; bytes: number }[] | undefined;
    try {
      rows = sources.datastoreBytes?.();
    } catch {
      return; // the last rows stay
    }
    datastoreRows =
      rows === undefined
        ? null
        : rows
            .map((r) => ({ namespace: r.namespace, bytes: r.bytes, size: formatSizeApprox(r.bytes) }))
            .sort((a, b) => b.bytes - a.bytes || (a.namespace < b.namespace ? -1 : 1));
  };

  const usersNow = (): BusyUser[] => {
    try {
      return sources.busiestUsers?.().slice(0, BUSIEST_USERS) ?? [];
    } catch {
      return [];
    }
  };

  const tick = (): DashboardTick => {
    readDatastore();
    const apps: DashboardTick["apps"] = {};
    const { names } = appsNow();
    for (const name of names) appEntry(name);
    for (const [name, entry] of perApp) {
      const sorted = entry.samples.flat().sort((a, b) => a - b);
      apps[name] = { rps: entry.count, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
      entry.count = 0;
      entry.seen = 0;
      entry.samples.push([]);
      if (entry.samples.length > LATENCY_WINDOW) entry.samples.shift();
    }
    const result: DashboardTick = {
      t: Math.floor(Date.now() / 1000),
      apps,
      rejected,
      bulkhead: sources.bulkhead(),
      inFlight: sources.runsInFlight(),
      connections: sources.openConnections(),
    };
    rejected = { "429": 0, "408": 0, "503": 0 };
    history.push(result);
    if (history.length > HISTORY_SECONDS) history.shift();
    return result;
  };

  const state = (last: DashboardTick): DashboardState => ({
    tick: last,
    draining: sources.draining(),
    apps: appsNow().out,
    users: usersNow(),
    datastore: datastoreRows,
    limits: { byKind: { ...byKind }, latest: [...latest] },
    totals: { ...totals },
  });

  const send = (res: ServerResponse, event: string, data: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  // The first tick at once, so that a page opened before any traffic has a point to show.
  tick();
  const timer = setInterval(() => {
    const last = tick();
    if (clients.size === 0) return;
    const snapshot = state(last);
    for (const res of clients) send(res, "tick", snapshot);
  }, 1000);
  timer.unref();

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (token !== undefined && !OPEN_PATHS.has(path) && !hasAdminToken(req, token)) {
      res
        .writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer realm="warden admin"' })
        .end(JSON.stringify({ status: 401, error: "unauthorized", message: "the admin token is missing or wrong" }));
      return true;
    }
    const file = (type: string, body: string | Buffer) => {
      res
        .writeHead(200, { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff" })
        .end(body);
      return true;
    };
    switch (path) {
      case "/":
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "content-security-policy":
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
          "x-content-type-options": "nosniff",
        });
        res.end(DASHBOARD_HTML);
        return true;
      case "/dashboard/dashboard.js":
        return file("text/javascript; charset=utf-8", DASHBOARD_SCRIPT);
      case "/dashboard/dashboard.css":
        return file("text/css; charset=utf-8", DASHBOARD_STYLE);
      case "/dashboard/uPlot.iife.min.js":
        return file("text/javascript; charset=utf-8", uplotFiles().js);
      case "/dashboard/uPlot.min.css":
        return file("text/css; charset=utf-8", uplotFiles().css);
      case "/dashboard/state":
        res
          .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
          .end(JSON.stringify({ history, state: state(history[history.length - 1]!) }));
        return true;
      case "/dashboard/events": {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        });
        res.write("retry: 2000\n\n");
        send(res, "history", history);
        send(res, "tick", state(history[history.length - 1]!));
        clients.add(res);
        res.once("close", () => clients.delete(res));
        return true;
      }
      default:
        return false;
    }
  };

  return {
    record,
    refusedConnection: () => {
      rejected["503"]++;
      totals["503"]++;
    },
    handle,
    state: () => state(history[history.length - 1]!),
    close: () => {
      clearInterval(timer);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
