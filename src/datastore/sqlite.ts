/**
 * The SQLite backend (better-sqlite3): one file, shared safely by several
 * processes. Loaded only when a `sqlite:` URL is opened, so importing the
 * package never loads the native addon.
 *
 * - Every write is one `BEGIN IMMEDIATE` transaction: it takes the file's
 *   write lock before it reads the namespace's usage, so writers in other
 *   processes wait (up to `busyTimeoutMs`) instead of checking the cap
 *   against a usage that is about to change.
 * - WAL journal: readers never block the writer, and a commit is one append.
 * - `synchronous = FULL` (the default): each commit is fsynced before its
 *   promise resolves, so a resolved write survives the process being killed
 *   and also an OS crash or power loss. `NORMAL` skips that fsync: resolved
 *   writes still survive the process being killed (the WAL frames are in the
 *   OS by then), not a power loss. See docs/datastore.md for measured costs.
 * - better-sqlite3 is synchronous: a write blocks this thread for its
 *   duration, lock waits included.
 */
import Database from "better-sqlite3";
import { ConfigError } from "../errors/index.js";
import type { DatastoreBackend } from "./backend.js";
import { LocalBackend, type EntryTable } from "./local.js";

/** How SQLite syncs commits to disk: `full` survives power loss, `normal` only process death. */
export type SqliteSynchronous = "full" | "normal";

/** Settings of the SQLite backend. */
export interface SqliteSettings {
  /** Absolute path of the database file. */
  readonly path: string;
  /** Longest wait for another connection's write lock, in milliseconds. */
  readonly busyTimeoutMs: number;
  /** Commit durability. */
  readonly synchronous: SqliteSynchronous;
}

/** `PRAGMA application_id` of a Warden datastore file ("WARD"). */
const APPLICATION_ID = 0x57415244;
/** `PRAGMA user_version`: the schema version this code reads and writes. */
const SCHEMA_VERSION = 1;

// `bytes` comes before `value`: reading a column after a large value would walk its overflow pages.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS warden_entries (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS warden_namespaces (
  namespace TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL
);
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** The smallest string above every string that starts with `prefix`, in code point order; undefined if none. */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1; // skip the surrogate range
      return points.join("") + String.fromCodePoint(next);
    }
  }
  return undefined;
}

class SqliteTable implements EntryTable {
  private readonly statements;
  private readonly transaction: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      read: db
        .prepare<[string, string], string>("SELECT value FROM warden_entries WHERE namespace = ? AND key = ?")
        .pluck(),
      bytesOf: db
        .prepare<[string, string], number>("SELECT bytes FROM warden_entries WHERE namespace = ? AND key = ?")
        .pluck(),
      has: db.prepare<[string, string], number>("SELECT 1 FROM warden_entries WHERE namespace = ? AND key = ?").pluck(),
      write: db.prepare<[string, string, number, string]>(
        "INSERT INTO warden_entries (namespace, key, bytes, value) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (namespace, key) DO UPDATE SET bytes = excluded.bytes, value = excluded.value",
      ),
      remove: db.prepare<[string, string]>("DELETE FROM warden_entries WHERE namespace = ? AND key = ?"),
      used: db.prepare<[string], number>("SELECT bytes FROM warden_namespaces WHERE namespace = ?").pluck(),
      setUsed: db.prepare<[string, number]>(
        "INSERT INTO warden_namespaces (namespace, bytes) VALUES (?, ?) " +
          "ON CONFLICT (namespace) DO UPDATE SET bytes = excluded.bytes",
      ),
      dropUsed: db.prepare<[string]>("DELETE FROM warden_namespaces WHERE namespace = ?"),
      keysFrom: db
        .prepare<[string, string, number], string>(
          "SELECT key FROM warden_entries WHERE namespace = ? AND key >= ? ORDER BY key LIMIT ?",
        )
        .pluck(),
      keysBetween: db
        .prepare<[string, string, string, number], string>(
          "SELECT key FROM warden_entries WHERE namespace = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?",
        )
        .pluck(),
    };
    this.transaction = db.transaction((fn: () => unknown) => fn());
  }

  atomic<T>(fn: () => T): T {
    return this.transaction.immediate(fn) as T;
  }

  read(namespace: string, key: string): string | undefined {
    return this.statements.read.get(namespace, key);
  }

  bytesOf(namespace: string, key: string): number | undefined {
    return this.statements.bytesOf.get(namespace, key);
  }

  write(namespace: string, key: string, json: string, bytes: number): void {
    this.statements.write.run(namespace, key, bytes, json);
  }

  remove(namespace: string, key: string): void {
    this.statements.remove.run(namespace, key);
  }

  used(namespace: string): number {
    return this.statements.used.get(namespace) ?? 0;
  }

  setUsed(namespace: string, bytes: number): void {
    // Every entry counts at least 2 bytes, so a usage of 0 means an empty namespace.
    if (bytes === 0) this.statements.dropUsed.run(namespace);
    else this.statements.setUsed.run(namespace, bytes);
  }

  has(namespace: string, key: string): boolean {
    return this.statements.has.get(namespace, key) !== undefined;
  }

  keys(namespace: string, prefix: string, limit: number | undefined): string[] {
    // TEXT compares with memcmp on UTF-8 (BINARY collation): code point order, a range scan on the key index.
    const end = prefixEnd(prefix);
    const max = limit ?? -1; // LIMIT -1: no limit
    return end === undefined
      ? this.statements.keysFrom.all(namespace, prefix, max)
      : this.statements.keysBetween.all(namespace, prefix, end, max);
  }

  close(): void {
    this.db.close();
  }
}

/** Creates the tables in a new file, or checks that an existing file is a datastore this code can read. */
function prepareSchema(db: Database.Database): void {
  db.transaction(() => {
    const applicationId = db.pragma("application_id", { simple: true }) as number;
    const version = db.pragma("user_version", { simple: true }) as number;
    if (applicationId !== 0 && applicationId !== APPLICATION_ID) {
      throw new Error(`it is the SQLite database of another application (application_id ${applicationId})`);
    }
    if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer version (schema ${version}; this version reads ${SCHEMA_VERSION})`);
    }
    if (applicationId === APPLICATION_ID && version === SCHEMA_VERSION) return;
    db.exec(SCHEMA);
  }).immediate();
}

/**
 * Opens (creating if needed) a SQLite datastore file. A file that cannot be
 * opened or is not a datastore raises `ConfigError` naming `url`; the handle
 * is closed before the error leaves.
 */
export function openSqliteBackend(url: string, settings: SqliteSettings): DatastoreBackend {
  const fail = (reason: string, cause: unknown): ConfigError =>
    new ConfigError({
      source: "the datastore URL",
      value: url,
      reason: `cannot open ${settings.path} as a datastore: ${reason}`,
      expected: "a SQLite file Warden can create or open, in an existing directory",
      cause,
    });
  let db: Database.Database;
  try {
    db = new Database(settings.path, { timeout: settings.busyTimeoutMs });
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error), error);
  }
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`the file system does not support its WAL journal (mode ${String(mode)})`);
    db.pragma(`synchronous = ${settings.synchronous.toUpperCase()}`);
    prepareSchema(db);
    return new LocalBackend("sqlite", `sqlite:${settings.path}`, new SqliteTable(db));
  } catch (error) {
    db.close();
    throw fail(error instanceof Error ? error.message : String(error), error);
  }
}
