// The pieces the guest-side wiring uses: the namespace policy and the operation dispatcher.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isConfigError } from "../../src/errors/index.js";
import {
  checkNamespacePolicy,
  DATASTORE_OPERATIONS,
  invokeDatastoreOperation,
  isDatastoreOperation,
  isNamespaceAllowed,
  openNamespaceForGuest,
} from "../../src/datastore/index.js";
import { cleanUp, openStore } from "./helpers.js";

afterEach(cleanUp);

describe("namespace policy", () => {
  test('"*" allows any valid name; a list allows its names; a predicate allows what it returns true for', () => {
    assert.equal(isNamespaceAllowed("*", "anything"), true);
    assert.equal(isNamespaceAllowed(["a", "b"], "a"), true);
    assert.equal(isNamespaceAllowed(["a", "b"], "c"), false);
    assert.equal(isNamespaceAllowed([], "a"), false);
    assert.equal(
      isNamespaceAllowed((name) => name.startsWith("user:"), "user:1"),
      true,
    );
    assert.equal(
      isNamespaceAllowed((name) => name.startsWith("user:"), "admin"),
      false,
    );
    const truthy = (() => 1) as unknown as (name: string) => boolean;
    assert.equal(isNamespaceAllowed(truthy, "a"), false, "only true allows");
  });

  test("openNamespaceForGuest checks the name, then the policy, and names the namespace it refuses", async () => {
    const store = await openStore("memory:", { maxDatastoreBytes: 1000 });
    const ns = openNamespaceForGuest(store, "orders", ["orders", "users"]);
    await ns.set("k", 1);
    assert.equal(await store.namespace("orders").get("k"), 1, "the same namespace as the host sees");
    assert.equal(ns.maxDatastoreBytes, 1000);
    assert.equal(openNamespaceForGuest(store, "x", "*", { maxDatastoreBytes: 10 }).maxDatastoreBytes, 10);
    assert.throws(() => openNamespaceForGuest(store, "secrets", ["orders", "users"]), {
      name: "RangeError",
      message: 'datastore namespace "secrets" is not allowed here (allowed: "orders", "users")',
    });
    assert.throws(() => openNamespaceForGuest(store, "a", []), {
      message: 'datastore namespace "a" is not allowed here (this sandbox may open no namespace)',
    });
    assert.throws(() => openNamespaceForGuest(store, "admin", (name) => name.startsWith("user:")), {
      message: `datastore namespace "admin" is not allowed here (the host's policy denies it)`,
    });
    let asked = 0;
    const counting = (): boolean => (asked++, true);
    assert.throws(() => openNamespaceForGuest(store, "../etc", counting), {
      name: "RangeError",
      message: /invalid datastore namespace name/,
    });
    assert.throws(() => openNamespaceForGuest(store, { toString: () => "x" }, "*"), { name: "TypeError" });
    assert.equal(asked, 0, "the predicate only sees valid names");
    await store.close();
  });

  test("checkNamespacePolicy validates configured policies", () => {
    assert.equal(checkNamespacePolicy("*"), "*");
    assert.deepEqual(checkNamespacePolicy(["a", "b"]), ["a", "b"]);
    const fn = (): boolean => true;
    assert.equal(checkNamespacePolicy(fn), fn);
    assert.ok(Object.isFrozen(checkNamespacePolicy(["a"])));
    for (const bad of ["all", 1, null, { a: true }]) {
      assert.throws(
        () => checkNamespacePolicy(bad),
        (error: unknown) => {
          assert.ok(isConfigError(error));
          assert.match(error.message, /from the datastore namespace policy; expected "\*", a list of namespace names/);
          return true;
        },
      );
    }
    assert.throws(() => checkNamespacePolicy(["ok", "not ok"], "the option datastoreNamespaces"), {
      message: /^invalid value "not ok" from the option datastoreNamespaces: invalid datastore namespace name "not ok"/,
    });
  });
});

describe("invokeDatastoreOperation", () => {
  test("runs each named operation with its arguments", async () => {
    const store = await openStore("memory:");
    const ns = store.namespace("n");
    const call = (op: string, ...args: unknown[]) => invokeDatastoreOperation(ns, op, args);
    assert.equal(await call("set", "k", { a: 1 }), undefined);
    assert.deepEqual(await call("get", "k"), { a: 1 });
    assert.equal(await call("has", "k"), true);
    assert.equal(await call("increment", "c"), 1);
    assert.equal(await call("increment", "c", undefined), 2);
    assert.equal(await call("increment", "c", 5, "extra"), 7);
    assert.equal(await call("push", "l", "x"), 1);
    assert.equal(await call("push", "l", "y"), 2);
    assert.equal(await call("shift", "l"), "x");
    assert.equal(await call("pop", "l"), "y");
    assert.deepEqual(await call("keys"), ["c", "k", "l"]);
    assert.deepEqual(await call("keys", { prefix: "k", limit: 1 }), ["k"]);
    assert.equal(await call("size"), await ns.size());
    assert.equal(await call("delete", "k"), true);
    assert.deepEqual(Object.keys(DATASTORE_OPERATIONS).sort(), [
      "delete",
      "get",
      "has",
      "increment",
      "keys",
      "pop",
      "push",
      "set",
      "shift",
      "size",
    ]);
    await store.close();
  });

  test("refuses names that are not operations, inherited ones included", async () => {
    const store = await openStore("memory:");
    const ns = store.namespace("n");
    for (const op of ["constructor", "__proto__", "toString", "close", "name", 3, undefined]) {
      assert.equal(isDatastoreOperation(op), false);
      await assert.rejects(invokeDatastoreOperation(ns, op, []), {
        name: "TypeError",
        message: /^unknown datastore operation/,
      });
    }
    await assert.rejects(invokeDatastoreOperation(ns, "get", [5]), {
      name: "TypeError",
      message: /key must be a string/,
    });
    await store.close();
  });
});
