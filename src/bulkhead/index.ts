/**
 * The bulkhead: per-user and global concurrency caps, bounded queues, overload
 * policies, 429 with an honest Retry-After, and HTTP helpers.
 */
export {
  Bulkhead,
  createBulkhead,
  type AcquireOptions,
  type BulkheadOptions,
  type BulkheadPermit,
  type BulkheadStats,
  type BulkheadUserStats,
} from "./bulkhead.js";
export {
  BULKHEAD_DEFAULTS,
  BULKHEAD_SETTINGS,
  OVERLOAD_POLICIES,
  BULKHEAD_STORE_KINDS,
  STORE_FAILURE_MODES,
  parseBulkheadValue,
  expectedBulkheadForm,
  type OverloadPolicy,
  type BulkheadStoreKind,
  type StoreFailureMode,
  type BulkheadConfig,
  type BulkheadConfigKey,
  type BulkheadConfigOptions,
  type BulkheadSetting,
  type BulkheadValueType,
} from "./options.js";
export {
  resolveBulkheadConfig,
  type BulkheadConfigInputs,
  type BulkheadConfigSource,
  type ResolvedBulkheadConfig,
} from "./config.js";
export { MemoryBulkheadStore, memoryStore } from "./memory-store.js";
export type {
  Awaitable,
  BulkheadRejection,
  BulkheadStore,
  BulkheadStoreContext,
  BulkheadStoreEvents,
  BulkheadStoreFactory,
  BulkheadStoreHealth,
  BulkheadStoreSnapshot,
  BulkheadTicket,
  BulkheadUserSnapshot,
  EnqueueResult,
} from "./store.js";
export { DrainRateMeter, RetryAfterAdvisor, type DrainRateOptions } from "./retry-after.js";
export { LinkedQueue, type QueueNode } from "./queue.js";
export {
  bulkheadMiddleware,
  bulkheadHandler,
  renderBulkheadError,
  sendBulkheadError,
  type BulkheadErrorResponse,
  type BulkheadHttpOptions,
  type NextFunction,
  type TooManyRequestsBody,
  type RequestTimeoutBody,
  type ServiceUnavailableBody,
} from "./http.js";
