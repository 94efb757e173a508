/**
 * The datastore: namespaces of JSON values with a byte cap per namespace,
 * over a backend (memory, SQLite, or any `DatastoreBackend`). This module
 * checks every input, turns values into JSON text and back, and owns the
 * backend's lifetime; the backend does each operation as one atomic step.
 */
import { DisposedError } from "../errors/index.js";
import type { DatastoreBackend } from "./backend.js";
import { fromJsonText, toJsonText, type JsonValue } from "./json.js";
import { checkIncrement, checkKey, checkKeysOptions, checkNamespaceName, type DatastoreKeysOptions } from "./limits.js";
import { openMemoryBackend } from "./memory.js";
import { parseDatastoreCap, resolveDatastoreOptions, type DatastoreOptions } from "./options.js";
import { parseDatastoreUrl } from "./url.js";

/**
 * The operations on one namespace. All are asynchronous; values are JSON
 * data, checked before anything is stored. A write that would take the
 * namespace past its cap rejects with `LimitExceededError` (kind
 * `datastore_size`) and stores nothing.
 */
export interface DatastoreNamespace {
  /** The namespace's name. */
  readonly name: string;
  /** This namespace's cap in bytes; `0` or `-1`: none. */
  readonly maxDatastoreBytes: number;
  /** The value under `key` (a fresh copy), or `undefined` when there is none. */
  get(key: string): Promise<JsonValue | undefined>;
  /** Stores `value` under `key`, replacing any value. */
  set(key: string, value: unknown): Promise<void>;
  /** Removes `key`; true when it held a value. Gives its bytes back. */
  delete(key: string): Promise<boolean>;
  /** True when `key` holds a value. */
  has(key: string): Promise<boolean>;
  /** Keys in Unicode code point order (UTF-8 byte order), optionally only those with a prefix, at most `limit`. */
  keys(options?: DatastoreKeysOptions): Promise<string[]>;
  /** Adds `by` to the number under `key` (missing: 0) and returns the result; `TypeError` if it holds another type. */
  increment(key: string, by?: number): Promise<number>;
  /** Appends `value` to the array under `key` (missing: `[]`) and returns the new length. */
  push(key: string, value: unknown): Promise<number>;
  /** Removes and returns the last element of the array under `key`; `undefined` when missing or empty. */
  pop(key: string): Promise<JsonValue | undefined>;
  /** Removes and returns the first element of the array under `key`; `undefined` when missing or empty. */
  shift(key: string): Promise<JsonValue | undefined>;
  /** Bytes the namespace uses: the sum, over its entries, of the UTF-8 bytes of the key and of the value's JSON text. */
  size(): Promise<number>;
}

/** Per-namespace options of {@link Datastore.namespace}. */
export interface NamespaceOptions {
  /**
   * Cap for writes through this handle, in bytes or as a size; `0` or `-1`: none.
   * @default the datastore's `maxDatastoreBytes`
   */
  maxDatastoreBytes?: number | string;
}

/** A datastore: a disposable handle on a backend. Close it (or `await using` it) when done. */
export interface Datastore extends AsyncDisposable {
  /** Where the data lives (`memory:`, `sqlite:/abs/path.db`, `redis://host:6379` with any password as `***`). */
  readonly location: string;
  /** Backend kind: `memory`, `sqlite`, `redis`, ... */
  readonly kind: string;
  /** Default cap per namespace in bytes; `0` or `-1`: none. */
  readonly maxDatastoreBytes: number;
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /**
   * The operations on one namespace. Cheap: it holds no resource. A name
   * has 1 to 128 letters, digits, `_`, `-`, `.` or `:`, starting with a
   * letter, digit or `_`; anything else throws (`TypeError`/`RangeError`).
   */
  namespace(name: string, options?: NamespaceOptions): DatastoreNamespace;
  /**
   * Waits for operations in flight, then releases the backend (closes the
   * SQLite file, or the Redis connection). Later operations reject with `DisposedError`. Idempotent.
   */
  close(): Promise<void>;
}

class Store implements Datastore {
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly backend: DatastoreBackend,
    readonly maxDatastoreBytes: number,
  ) {}

  get location(): string {
    return this.backend.location;
  }

  get kind(): string {
    return this.backend.kind;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  namespace(name: string, options: NamespaceOptions = {}): DatastoreNamespace {
    if (this.isClosed) throw new DisposedError("this datastore");
    const checked = checkNamespaceName(name);
    const cap =
      options.maxDatastoreBytes === undefined
        ? this.maxDatastoreBytes
        : parseDatastoreCap(options.maxDatastoreBytes, "the namespace option maxDatastoreBytes");
    return new Namespace(this, checked, cap);
  }

  /**
   * Runs one backend call, refusing once closed and tracking it until it
   * settles. The call starts synchronously, so operations reach the backend
   * in the order they were made.
   */
  use<T>(call: (backend: DatastoreBackend) => Promise<T>): Promise<T> {
    if (this.isClosed) return Promise.reject(new DisposedError("this datastore"));
    const pending = call(this.backend);
    this.inflight.add(pending);
    const settled = (): void => void this.inflight.delete(pending);
    pending.then(settled, settled);
    return pending;
  }

  close(): Promise<void> {
    this.isClosed = true;
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inflight]);
      await this.backend.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

class Namespace implements DatastoreNamespace {
  constructor(
    private readonly store: Store,
    readonly name: string,
    readonly maxDatastoreBytes: number,
  ) {}

  async get(key: string): Promise<JsonValue | undefined> {
    const k = checkKey(key);
    const text = await this.store.use((b) => b.get(this.name, k));
    return text === undefined ? undefined : fromJsonText(text);
  }

  async set(key: string, value: unknown): Promise<void> {
    const k = checkKey(key);
    const json = toJsonText(value);
    await this.store.use((b) => b.set(this.name, k, json, this.maxDatastoreBytes));
  }

  async delete(key: string): Promise<boolean> {
    const k = checkKey(key);
    return this.store.use((b) => b.delete(this.name, k));
  }

  async has(key: string): Promise<boolean> {
    const k = checkKey(key);
    return this.store.use((b) => b.has(this.name, k));
  }

  async keys(options?: DatastoreKeysOptions): Promise<string[]> {
    const query = checkKeysOptions(options);
    return this.store.use((b) => b.keys(this.name, query.prefix, query.limit));
  }

  async increment(key: string, by: number = 1): Promise<number> {
    const k = checkKey(key);
    const step = checkIncrement(by);
    return this.store.use((b) => b.increment(this.name, k, step, this.maxDatastoreBytes));
  }

  async push(key: string, value: unknown): Promise<number> {
    const k = checkKey(key);
    const json = toJsonText(value);
    return this.store.use((b) => b.push(this.name, k, json, this.maxDatastoreBytes));
  }

  async pop(key: string): Promise<JsonValue | undefined> {
    const k = checkKey(key);
    const text = await this.store.use((b) => b.pop(this.name, k));
    return text === undefined ? undefined : fromJsonText(text);
  }

  async shift(key: string): Promise<JsonValue | undefined> {
    const k = checkKey(key);
    const text = await this.store.use((b) => b.shift(this.name, k));
    return text === undefined ? undefined : fromJsonText(text);
  }

  async size(): Promise<number> {
    return this.store.use((b) => b.size(this.name));
  }
}

/**
 * Opens a datastore: `"memory:"` (a new, empty store in this process),
 * `"sqlite:./path.db"` or `"sqlite:/abs/path.db"` (a file, created if
 * missing), `"redis://host:6379"` (a Redis server, shared by every process
 * that opens the same URL; `rediss://` for TLS), or a ready
 * {@link DatastoreBackend}. A bad URL or option raises `ConfigError`; so does
 * a file that cannot be opened as a datastore, and a Redis server that cannot
 * be reached (the message names the URL, password hidden).
 */
export async function createDatastore(
  target: string | DatastoreBackend,
  options: DatastoreOptions = {},
): Promise<Datastore> {
  const settings = resolveDatastoreOptions(options);
  if (typeof target === "object" && target !== null) return new Store(target, settings.maxDatastoreBytes);
  const location = parseDatastoreUrl(target, settings.cwd);
  if (location.kind === "memory") return new Store(openMemoryBackend(), settings.maxDatastoreBytes);
  if (location.kind === "redis") {
    // Loaded here, not at the top: only Redis users load the client.
    const { openRedisBackend } = await import("./redis.js");
    return new Store(await openRedisBackend(location), settings.maxDatastoreBytes);
  }
  // Loaded here, not at the top: only SQLite users load the native addon.
  const { openSqliteBackend } = await import("./sqlite.js");
  const backend = openSqliteBackend(String(target), {
    path: location.path,
    busyTimeoutMs: settings.busyTimeoutMs,
    synchronous: settings.synchronous,
  });
  return new Store(backend, settings.maxDatastoreBytes);
}
