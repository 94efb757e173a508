/**
 * The server's Prometheus metrics, in a registry of its own (several servers in one
 * process never share or clash). Served on the admin listener only.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Live numbers the gauges read at scrape time. */
export interface MetricsSources {
  /** Open connections of the app port. */
  openConnections(): number;
  /** Requests running in a sandbox now. */
  runsInFlight(): number;
  /** Bulkhead counters: requests holding a slot and waiting for one. */
  bulkhead(): { running: number; queued: number };
}

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
  return { registry, requests, duration, cpu, limitHits, rejections, reloads };
}
