/**
 * The server's Prometheus metrics, in a registry of its own (several servers in one
 * process never share or clash). Served on the admin listener only.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BulkheadStoreHealth } from "../bulkhead/index.js";

/** Live numbers the gauges read at scrape time. */
export interface MetricsSources {
  /** Open connections of the app port. */
  openConnections(): number;
  /** Requests running in a sandbox now. */
  runsInFlight(): number;
  /** Bulkhead counters: requests holding a slot and waiting for one. */
  bulkhead(): { running: number; queued: number };
  /** The bulkhead's busiest users, busiest first (the gauges take the first {@link METRIC_USERS}). */
  busiestUsers?(): { user: string; running: number; queued: number }[];
  /** Per app: the latest request's peak sandbox memory in bytes. */
  sandboxMemory?(): { app: string; bytes: number }[];
  /** Bytes per datastore namespace guests opened, as last read (at most 100 namespaces). */
  datastoreBytes?(): { namespace: string; bytes: number }[] | undefined;
  /** The bulkhead's shared store (Redis): its state and counts; undefined for the in-memory store. */
  bulkheadStore?(): BulkheadStoreHealth | undefined;
}

/** The states of a shared bulkhead store, one series each in `warden_bulkhead_store_state`. */
const STORE_STATES: readonly BulkheadStoreHealth["state"][] = ["connecting", "connected", "unavailable", "fallback"];

/** Users the per-user bulkhead gauges show at one scrape (the label set stays bounded). */
export const METRIC_USERS = 10;

/** The metrics of one server. */
export interface ServeMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"app" | "status">;
  readonly duration: Histogram<"app">;
  readonly cpu: Histogram<"app">;
  readonly limitHits: Counter<"app" | "kind">;
  readonly rejections: Counter<"status">;
  readonly reloads: Counter<"app" | "result">;
}

/** Creates the registry and every metric. */
export function createMetrics(sources: MetricsSources): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "warden_http_requests_total",
    help: "Requests answered, by app and HTTP status",
    labelNames: ["app", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "warden_http_request_duration_seconds",
    help: "Time from the request's arrival to its answer, by app",
    labelNames: ["app"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const cpu = new Histogram({
    name: "warden_request_cpu_seconds",
    help: "CPU time of a request's run in its sandbox, by app (when the runtime reports a call's usage)",
    labelNames: ["app"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const limitHits = new Counter({
    name: "warden_limit_hits_total",
    help: "Requests that ended in a limit error, by app and limit kind",
    labelNames: ["app", "kind"] as const,
    registers: [registry],
  });
  const rejections = new Counter({
    name: "warden_http_rejections_total",
    help: "Requests turned away before running: 429 (queue full), 408 (queue timeout), 503 (connection cap, draining)",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  for (const status of ["429", "408", "503"]) rejections.inc({ status }, 0);
  const reloads = new Counter({
    name: "warden_app_reloads_total",
    help: "Reloads of an app under --watch, by app and result (ok, failed: the old version kept serving)",
    labelNames: ["app", "result"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "warden_http_open_connections",
    help: "Open connections of the app port",
    registers: [registry],
    collect() {
      this.set(sources.openConnections());
    },
  });
  new Gauge({
    name: "warden_runs_in_flight",
    help: "Requests running in a sandbox",
    registers: [registry],
    collect() {
      this.set(sources.runsInFlight());
    },
  });
  new Gauge({
    name: "warden_bulkhead_running",
    help: "Requests holding a bulkhead slot",
    registers: [registry],
    collect() {
      this.set(sources.bulkhead().running);
    },
  });
  new Gauge({
    name: "warden_bulkhead_queued",
    help: "Requests waiting for a bulkhead slot",
    registers: [registry],
    collect() {
      this.set(sources.bulkhead().queued);
    },
  });
  // Per-user gauges: reset at each scrape, then set for the busiest users only, so that a user
  // who went quiet leaves the output and the label set never grows past METRIC_USERS.
  const perUser = (name: string, help: string, value: (u: { running: number; queued: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["user"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const u of (sources.busiestUsers?.() ?? []).slice(0, METRIC_USERS)) this.set({ user: u.user }, value(u));
      },
    });
  perUser(
    "warden_bulkhead_user_running",
    `Requests holding a bulkhead slot, by user key, for the ${METRIC_USERS} busiest users at scrape time`,
    (u) => u.running,
  );
  perUser(
    "warden_bulkhead_user_queued",
    `Requests waiting for a bulkhead slot, by user key, for the ${METRIC_USERS} busiest users at scrape time`,
    (u) => u.queued,
  );
  new Gauge({
    name: "warden_sandbox_memory_bytes",
    help: "Peak memory of the latest request's run in its sandbox, by app (when the runtime reports a call's usage)",
    labelNames: ["app"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { app, bytes } of sources.sandboxMemory?.() ?? []) this.set({ app }, bytes);
    },
  });
  new Gauge({
    name: "warden_datastore_bytes",
    help: "Bytes per datastore namespace guests opened (the 100 most recently opened), as last read (every 2 s at most)",
    labelNames: ["namespace"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { namespace, bytes } of sources.datastoreBytes?.() ?? []) this.set({ namespace }, bytes);
    },
  });
  // The shared store's health (present only with one): the state as one series per state, set to 1
  // for the current one, and its counts since start as counters (they only grow).
  new Gauge({
    name: "warden_bulkhead_store_state",
    help: "The bulkhead's shared store (Redis): 1 for its current state (connecting, connected, unavailable: failing closed, fallback: failing open)",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const health = sources.bulkheadStore?.();
      if (health) for (const state of STORE_STATES) this.set({ state }, health.state === state ? 1 : 0);
    },
  });
  const storeCounter = (name: string, help: string, read: (health: BulkheadStoreHealth) => number) => {
    let seen = 0;
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const health = sources.bulkheadStore?.();
        if (!health) return;
        const now = read(health);
        if (now > seen) this.inc(now - seen);
        seen = Math.max(seen, now);
      },
    });
  };
  storeCounter(
    "warden_bulkhead_store_outages_total",
    "Times this instance lost the bulkhead's shared store (Redis) while serving",
    (h) => h.outages,
  );
  storeCounter(
    "warden_bulkhead_store_rejected_total",
    "Requests answered 503 because the bulkhead's shared store could not be reached (failing closed)",
    (h) => h.rejectedUnavailable,
  );
  storeCounter(
    "warden_bulkhead_store_fallback_admissions_total",
    "Requests admitted by this instance's own caps while the shared store could not be reached (failing open)",
    (h) => h.admittedOnFallback,
  );
  return { registry, requests, duration, cpu, limitHits, rejections, reloads };
}
