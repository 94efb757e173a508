/**
 * The datastore: per-namespace JSON key-value storage with a byte cap per
 * namespace, on memory (embedded default), a SQLite file or Redis, behind a
 * backend contract. See docs/datastore.md.
 */
export { createDatastore, type Datastore, type DatastoreNamespace, type NamespaceOptions } from "./datastore.js";
export { DEFAULT_MAX_DATASTORE_BYTES, type DatastoreOptions } from "./options.js";
export type { SqliteSynchronous } from "./sqlite.js";
export type { DatastoreBackend } from "./backend.js";
export { MAX_DATASTORE_VALUE_DEPTH, type JsonValue } from "./json.js";
export {
  MAX_DATASTORE_KEY_BYTES,
  MAX_NAMESPACE_NAME_LENGTH,
  NAMESPACE_NAME_PATTERN,
  checkDatastoreCap,
  datastoreEntryBytes,
  datastoreTypeError,
  type DatastoreKeysOptions,
} from "./limits.js";
export {
  parseDatastoreUrl,
  redactDatastoreUrl,
  DATASTORE_URL_FORMS,
  DEFAULT_REDIS_DATASTORE_PREFIX,
  type DatastoreLocation,
  type RedisLocation,
} from "./url.js";
export {
  openNamespaceForGuest,
  checkNamespacePolicy,
  isNamespaceAllowed,
  invokeDatastoreOperation,
  isDatastoreOperation,
  DATASTORE_OPERATIONS,
  type NamespacePolicy,
  type DatastoreOperation,
} from "./guest.js";
