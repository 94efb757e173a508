/**
 * The backend contract: where a datastore's entries live. The datastore in
 * front of it checks names, keys and values, turns values into JSON text and
 * back, and owns disposal; a backend stores texts and keeps the accounting.
 *
 * The contract is shaped for a shared store (Redis) as much as for the local
 * ones:
 *
 * - Every method answers with a promise.
 * - Each write method is one atomic step that reads the namespace's usage,
 *   checks the cap with the bytes of this write, and writes (one transaction
 *   in SQLite; one Lua script in Redis, with `limit` as an argument), so
 *   concurrent writers, in one process or many, can never pass the cap
 *   together.
 * - Byte accounting lives in the store beside the data (a usage row per
 *   namespace in SQLite, a counter key per namespace in Redis) and changes in
 *   the same step as the data. Bytes of an entry are the UTF-8 length of its
 *   key plus the UTF-8 length of its JSON text (`datastoreEntryBytes`); Lua's `#s` on
 *   the same texts gives the same number.
 * - Values cross as JSON text, exactly as the datastore made it (the output of
 *   `JSON.stringify`). A backend that edits arrays (`push`, `pop`, `shift`)
 *   must write back the same text `JSON.stringify` would give; in Lua, splice
 *   the text or keep arrays as lists of element texts rather than round-trip
 *   through cjson, which cannot tell `[]` from `{}`.
 * - A refused write throws `LimitExceededError` (kind `datastore_size`,
 *   `limit`, `observed` = the usage the write would have produced; see
 *   `checkDatastoreCap`) and changes nothing; an operation on a value of the wrong
 *   type throws `TypeError` (see `datastoreTypeError`) and changes nothing.
 */

/** Storage of a datastore's namespaces. See the module comment for the contract. */
export interface DatastoreBackend {
  /** Short name of the kind of store: `memory`, `sqlite`, ... */
  readonly kind: string;
  /** Where the data lives, as a datastore URL (`memory:`, `sqlite:/abs/path.db`). */
  readonly location: string;
  /** JSON text stored under `key`, or `undefined`. */
  get(namespace: string, key: string): Promise<string | undefined>;
  /** True when `key` holds a value. */
  has(namespace: string, key: string): Promise<boolean>;
  /** Keys that start with `prefix`, in UTF-8 byte order (Unicode code point order), at most `limit` of them. */
  keys(namespace: string, prefix: string, limit: number | undefined): Promise<string[]>;
  /** Bytes the namespace holds (sum of `datastoreEntryBytes` over its entries). */
  size(namespace: string): Promise<number>;
  /** Stores `json` under `key`, replacing any value; refused whole past `limit` bytes (`0` or `-1`: no cap). */
  set(namespace: string, key: string, json: string, limit: number): Promise<void>;
  /** Removes `key`; true when it held a value. */
  delete(namespace: string, key: string): Promise<boolean>;
  /** Adds `by` to the number under `key` (a missing key counts as 0); returns the new number. */
  increment(namespace: string, key: string, by: number, limit: number): Promise<number>;
  /** Appends the element `json` to the array under `key` (a missing key counts as `[]`); returns the new length. */
  push(namespace: string, key: string, json: string, limit: number): Promise<number>;
  /** Removes the last element of the array under `key`; its JSON text, or `undefined` when missing or empty. */
  pop(namespace: string, key: string): Promise<string | undefined>;
  /** Removes the first element of the array under `key`; its JSON text, or `undefined` when missing or empty. */
  shift(namespace: string, key: string): Promise<string | undefined>;
  /** Releases the store's resources. Called once, after every operation has settled. */
  close(): Promise<void>;
}
