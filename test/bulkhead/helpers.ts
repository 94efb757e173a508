import { createBulkhead, type Bulkhead, type BulkheadOptions } from "../../src/bulkhead/index.js";

const open = new Set<Bulkhead>();

/** A bulkhead isolated from the environment and any config file, closed by {@link closeBulkheads}. */
export function makeBulkhead(options: BulkheadOptions = {}): Bulkhead {
  const bulkhead = createBulkhead({ env: false, configFile: false, ...options });
  open.add(bulkhead);
  return bulkhead;
}

/** Closes every bulkhead made by {@link makeBulkhead}; call it in `afterEach`. */
export async function closeBulkheads(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((bulkhead) => bulkhead.close()));
}

/** A promise with its resolve and reject functions. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (a macrotask turn). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Observes a promise's outcome without awaiting it. */
export interface Observed<T> {
  readonly promise: Promise<T>;
  state: "pending" | "fulfilled" | "rejected";
  value: T | undefined;
  error: unknown;
}

export function observe<T>(promise: Promise<T>): Observed<T> {
  const observed: Observed<T> = { promise, state: "pending", value: undefined, error: undefined };
  promise.then(
    (value) => {
      observed.state = "fulfilled";
      observed.value = value;
    },
    (error: unknown) => {
      observed.state = "rejected";
      observed.error = error;
    },
  );
  return observed;
}
