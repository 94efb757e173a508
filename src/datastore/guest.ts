/**
 * What the guest-side wiring needs: the policy of which namespaces a sandbox
 * may open, and a dispatcher that turns one host call (operation name and
 * arguments, both untrusted) into one namespace operation.
 *
 * Wiring in a runtime is then a few lines:
 *
 * ```ts
 * const ns = openNamespaceForGuest(store, name, policy); // datastore(name) in the guest
 * return invokeDatastoreOperation(ns, op, args);         // store[op](...args) in the guest
 * ```
 */
import { ConfigError } from "../errors/index.js";
import type { Datastore, DatastoreNamespace, NamespaceOptions } from "./datastore.js";
import { checkNamespaceName } from "./limits.js";

/**
 * Which namespaces a guest may open: `"*"` (any), a list of names, or a
 * predicate that returns `true` for an allowed name (anything else denies).
 */
export type NamespacePolicy = "*" | readonly string[] | ((name: string) => boolean);

/** Checks a policy given in configuration; `ConfigError` naming `source` and the bad value. */
export function checkNamespacePolicy(policy: unknown, source = "the datastore namespace policy"): NamespacePolicy {
  const expected = `"*", a list of namespace names, or a function of the name returning true to allow it`;
  if (policy === "*" || typeof policy === "function") return policy as NamespacePolicy;
  if (!Array.isArray(policy)) throw new ConfigError({ source, value: policy, expected });
  for (const name of policy as unknown[]) {
    try {
      checkNamespaceName(name);
    } catch (error) {
      throw new ConfigError({
        source,
        value: name,
        reason: error instanceof Error ? error.message : String(error),
        expected,
        cause: error,
      });
    }
  }
  return Object.freeze([...(policy as string[])]);
}

/** True when `policy` lets a guest open the namespace `name` (a name already checked). */
export function isNamespaceAllowed(policy: NamespacePolicy, name: string): boolean {
  if (policy === "*") return true;
  if (typeof policy === "function") return policy(name) === true;
  return policy.includes(name);
}

function allowedList(policy: NamespacePolicy): string {
  if (typeof policy === "function" || policy === "*") return "the host's policy denies it";
  if (policy.length === 0) return "this sandbox may open no namespace";
  return `allowed: ${policy.map((name) => JSON.stringify(name)).join(", ")}`;
}

/**
 * Opens a namespace for a guest: checks the name (`TypeError`/`RangeError`),
 * then the policy (`RangeError` naming the namespace when it is not allowed),
 * and returns the namespace's operations.
 */
export function openNamespaceForGuest(
  store: Datastore,
  name: unknown,
  policy: NamespacePolicy,
  options: NamespaceOptions = {},
): DatastoreNamespace {
  const checked = checkNamespaceName(name);
  if (!isNamespaceAllowed(policy, checked)) {
    throw new RangeError(`datastore namespace ${JSON.stringify(checked)} is not allowed here (${allowedList(policy)})`);
  }
  return store.namespace(checked, options);
}

/** Every operation of a namespace, with how many arguments it takes. */
export const DATASTORE_OPERATIONS = {
  get: 1,
  set: 2,
  delete: 1,
  has: 1,
  keys: 1,
  increment: 2,
  push: 2,
  pop: 1,
  shift: 1,
  size: 0,
} as const satisfies Record<Exclude<keyof DatastoreNamespace, "name" | "maxDatastoreBytes">, number>;

/** Name of a namespace operation. */
export type DatastoreOperation = keyof typeof DATASTORE_OPERATIONS;

/** True when `op` names a namespace operation (own names only: `constructor` or `__proto__` are not). */
export function isDatastoreOperation(op: unknown): op is DatastoreOperation {
  return typeof op === "string" && Object.hasOwn(DATASTORE_OPERATIONS, op);
}

/**
 * Runs one operation named by untrusted input: `op` must be one of
 * {@link DATASTORE_OPERATIONS} (else `TypeError`); arguments past the
 * operation's count are ignored, as JavaScript ignores extra arguments; the
 * operation checks the rest.
 */
export async function invokeDatastoreOperation(
  namespace: DatastoreNamespace,
  op: unknown,
  args: readonly unknown[],
): Promise<unknown> {
  if (!isDatastoreOperation(op)) {
    throw new TypeError(
      `unknown datastore operation ${typeof op === "string" ? JSON.stringify(op) : typeof op}; the operations are ${Object.keys(DATASTORE_OPERATIONS).join(", ")}`,
    );
  }
  const a = args.slice(0, DATASTORE_OPERATIONS[op]);
  switch (op) {
    case "get":
      return namespace.get(a[0] as string);
    case "set":
      return namespace.set(a[0] as string, a[1]);
    case "delete":
      return namespace.delete(a[0] as string);
    case "has":
      return namespace.has(a[0] as string);
    case "keys":
      return namespace.keys(a[0] as Parameters<DatastoreNamespace["keys"]>[0]);
    case "increment":
      return a.length < 2 || a[1] === undefined
        ? namespace.increment(a[0] as string)
        : namespace.increment(a[0] as string, a[1] as number);
    case "push":
      return namespace.push(a[0] as string, a[1]);
    case "pop":
      return namespace.pop(a[0] as string);
    case "shift":
      return namespace.shift(a[0] as string);
    case "size":
      return namespace.size();
  }
}
