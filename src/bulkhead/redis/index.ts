/**
 * `warden/redis`: the bulkhead's Redis store, for several instances sharing
 * one set of caps and queues. Imported on its own subpath so that
 * `import "warden"` never loads a Redis client.
 *
 * ```ts
 * import { createBulkhead } from "warden";
 * import { redisBulkheadStore } from "warden/redis";
 *
 * const bulkhead = createBulkhead({ store: redisBulkheadStore({ url: "redis://10.0.0.5:6379" }) });
 * await bulkhead.ready(); // rejects with StoreUnavailableError when Redis cannot be reached
 * ```
 */
export { RedisBulkheadStore, redisBulkheadStore } from "./store.js";
export type { RedisBulkheadStoreOptions } from "./options.js";
export { ClusterDrainRate } from "./drain-rate.js";
