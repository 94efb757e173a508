import type { HostCallHandler } from "../engine/index.js";
import { LimitExceededError } from "../errors/index.js";
import type { LimitValues } from "../limits/index.js";
import { readBodyCapped } from "./values.js";
import {
  invokeDatastoreOperation,
  openNamespaceForGuest,
  type Datastore,
  type NamespacePolicy,
} from "../datastore/index.js";

/** A spawned task's request, as the guest's `spawn(specifier, input, { limits })` makes it. */
export interface SpawnRequest {
  specifier: string;
  /** The input as JSON text, or undefined for none. */
  inputJson: string | undefined;
  /** The guest's limit overrides for the task (checked by the limits model). */
  limits: Record<string, unknown> | undefined;
  /** Milliseconds the parent has left (the task's wall clock never outlives it), or undefined for no limit. */
  remainingMs: number | undefined;
  /** Aborts when the parent ends: its unfinished tasks are cancelled. */
  signal: AbortSignal;
  /** The parent's limits: a task starts from them (its own overrides on top). */
  parentLimits: LimitValues;
}

/** The host facilities a runtime hands its guests. */
export interface HostFacilities {
  /** The datastore behind the guests' `datastore(name)`, and which namespaces they may open. */
  datastore?: { store: Datastore; namespaces: NamespacePolicy } | undefined;
  /**
   * Origins the guests' `fetch()` may reach (`https://api.example.com`, or `"*"` for any);
   * empty or absent: fetch() is off.
   */
  allowFetch?: readonly string[] | undefined;
  /** Runs a spawned task to its value as JSON text; rejects with the task's error. */
  spawn?: ((request: SpawnRequest) => Promise<string>) | undefined;
}

/**
 * The host-call handler of one run or call: the guest's `datastore(name)`
 * operations on the runtime's datastore, each namespace capped at the run's
 * `maxDatastoreBytes`, and its `spawn(...)` tasks, whose wall clock never
 * outlives the run's. Every argument comes from the guest and is checked by
 * the facility it names.
 */
export function hostCallHandler(facilities: HostFacilities, limits: LimitValues): HostCallHandler {
  const startedAt = performance.now();
  let subrequests = 0;
  return async (name, argsJson, signal) => {
    if (name === "fetch") {
      const request = JSON.parse(argsJson) as OutgoingRequest;
      const url = new URL(request.url);
      checkOrigin(facilities.allowFetch, url);
      subrequests++;
      if (limits.maxSubrequests > 0 && subrequests > limits.maxSubrequests) {
        throw new LimitExceededError({ kind: "subrequests", limit: limits.maxSubrequests, observed: subrequests });
      }
      return fetchForGuest(url, request, signal, limits.maxValueBytes);
    }
    if (name === "spawn") {
      if (!facilities.spawn) throw new Error("spawn() is not available in this sandbox");
      const [specifier, inputJson, overrides] = JSON.parse(argsJson) as [unknown, unknown, unknown];
      if (typeof specifier !== "string") throw new TypeError("spawn(specifier): the specifier must be a string");
      return facilities.spawn({
        specifier,
        inputJson: typeof inputJson === "string" ? inputJson : undefined,
        limits:
          overrides !== null && typeof overrides === "object" ? (overrides as Record<string, unknown>) : undefined,
        remainingMs: limits.timeoutMs > 0 ? Math.max(1, limits.timeoutMs - (performance.now() - startedAt)) : undefined,
        signal,
        parentLimits: limits,
      });
    }
    if (name === "datastore") {
      const datastore = facilities.datastore;
      if (!datastore) throw new Error("datastore() is not available: this runtime has no datastore");
      const [namespace, op, args] = JSON.parse(argsJson) as [unknown, unknown, unknown];
      const opened = openNamespaceForGuest(datastore.store, namespace, datastore.namespaces, {
        maxDatastoreBytes: limits.maxDatastoreBytes,
      });
      const result = await invokeDatastoreOperation(opened, op, Array.isArray(args) ? args : []);
      return JSON.stringify(result) ?? "";
    }
    throw new Error(`${name} is not available in this sandbox`);
  };
}

/** A guest's outgoing request, as its `fetch()` sends it (body as base64). */
interface OutgoingRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: string | null;
}

/** Refuses a URL whose origin the host does not allow, naming the origin and what is allowed. */
function checkOrigin(allowFetch: readonly string[] | undefined, url: URL): void {
  if (!allowFetch || allowFetch.length === 0) {
    throw new TypeError("fetch() is off in this sandbox: the host allows no origins (allowFetch)");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`fetch() supports http: and https: only, got ${url.protocol}`);
  }
  if (!allowFetch.includes("*") && !allowFetch.includes(url.origin)) {
    throw new TypeError(`fetch() to ${url.origin} is not allowed here (allowed: ${allowFetch.join(", ")})`);
  }
}

/**
 * Makes a guest's request from the host. Redirects are not followed (the guest sees the 3xx
 * and may fetch its Location, which the allowlist checks again); the response body is read
 * under `maxValueBytes` while it streams.
 */
async function fetchForGuest(
  url: URL,
  request: OutgoingRequest,
  signal: AbortSignal,
  maxValueBytes: number,
): Promise<string> {
  const method = request.method.toUpperCase();
  const response = await fetch(url, {
    method,
    headers: request.headers,
    ...(request.body !== null && method !== "GET" && method !== "HEAD"
      ? { body: Buffer.from(request.body, "base64") }
      : {}),
    redirect: "manual",
    signal,
  });
  const body = response.body ? await readBodyCapped(response, maxValueBytes) : Buffer.alloc(0);
  return JSON.stringify({
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body: body.toString("base64"),
  });
}
