// Every operation, as one suite a backend runs (see operations.test.ts and redis.test.ts).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openStore, type BackendCase } from "../helpers.js";

/** Every operation of the datastore, against one backend. */
export function operationsSuite(backend: BackendCase): void {
  describe(`${backend.name} backend: operations`, () => {
    async function namespace(name = "test") {
      const store = await openStore(backend.url());
      return { store, ns: store.namespace(name) };
    }

    test("set and get round-trip JSON data as fresh copies", async () => {
      const { store, ns } = await namespace();
      const value = { a: 1, b: [true, null, "x", { c: -2.5e-7 }], "key with space": "é€😀", nested: { deep: [] } };
      await ns.set("k", value);
      const got = await ns.get("k");
      assert.deepEqual(got, value);
      assert.notEqual(got, value);
      (got as { a: number }).a = 99;
      assert.deepEqual(await ns.get("k"), value, "changing a returned copy changes nothing stored");
      for (const scalar of [null, true, false, 0, -0, 42, 1.5, "", "text", [], {}]) {
        await ns.set("s", scalar);
        assert.deepEqual(await ns.get("s"), JSON.parse(JSON.stringify(scalar)));
      }
      await store.close();
    });

    test("get of a missing key is undefined; null is a value", async () => {
      const { store, ns } = await namespace();
      assert.equal(await ns.get("missing"), undefined);
      await ns.set("n", null);
      assert.equal(await ns.get("n"), null);
      assert.equal(await ns.has("n"), true);
      await store.close();
    });

    test("set replaces; has and delete report presence", async () => {
      const { store, ns } = await namespace();
      await ns.set("k", 1);
      await ns.set("k", "two");
      assert.equal(await ns.get("k"), "two");
      assert.equal(await ns.has("k"), true);
      assert.equal(await ns.delete("k"), true);
      assert.equal(await ns.delete("k"), false);
      assert.equal(await ns.has("k"), false);
      assert.equal(await ns.get("k"), undefined);
      await store.close();
    });

    test("namespaces are separate", async () => {
      const store = await openStore(backend.url());
      const a = store.namespace("a");
      const b = store.namespace("b");
      await a.set("k", "in a");
      assert.equal(await b.get("k"), undefined);
      assert.deepEqual(await b.keys(), []);
      assert.equal(await b.size(), 0);
      await b.set("k", "in b");
      assert.equal(await a.get("k"), "in a");
      assert.equal(await a.size(), await b.size());
      await store.close();
    });

    test("keys: code point order, prefix, limit", async () => {
      const { store, ns } = await namespace();
      const keys = [
        "b",
        "a",
        "ab",
        "a:1",
        "a:2",
        "a:10",
        "\uffff",
        "😀",
        "\ue000",
        "é",
        "A",
        "a\u{10ffff}",
        "a\u{10ffff}x",
      ];
      for (const key of keys) await ns.set(key, 1);
      const byCodePoint = [...keys].sort((x, y) => {
        const xs = [...x].map((c) => c.codePointAt(0) as number);
        const ys = [...y].map((c) => c.codePointAt(0) as number);
        for (let i = 0; i < Math.min(xs.length, ys.length); i++)
          if (xs[i] !== ys[i]) return (xs[i] as number) - (ys[i] as number);
        return xs.length - ys.length;
      });
      assert.deepEqual(await ns.keys(), byCodePoint);
      assert.deepEqual(await ns.keys({ prefix: "a:" }), ["a:1", "a:10", "a:2"]);
      assert.deepEqual(await ns.keys({ prefix: "a" }), [
        "a",
        "a:1",
        "a:10",
        "a:2",
        "ab",
        "a\u{10ffff}",
        "a\u{10ffff}x",
      ]);
      assert.deepEqual(await ns.keys({ prefix: "a\u{10ffff}" }), ["a\u{10ffff}", "a\u{10ffff}x"]);
      assert.deepEqual(await ns.keys({ prefix: "a", limit: 2 }), ["a", "a:1"]);
      assert.deepEqual(await ns.keys({ limit: 1 }), ["A"]);
      assert.deepEqual(await ns.keys({ prefix: "zzz" }), []);
      assert.deepEqual(await ns.keys({ prefix: "" }), byCodePoint);
      await store.close();
    });

    test("increment: missing counts as 0, default step 1, any finite step", async () => {
      const { store, ns } = await namespace();
      assert.equal(await ns.increment("n"), 1);
      assert.equal(await ns.increment("n"), 2);
      assert.equal(await ns.increment("n", 10), 12);
      assert.equal(await ns.increment("n", -12.5), -0.5);
      assert.equal(await ns.get("n"), -0.5);
      await ns.set("s", "text");
      await assert.rejects(ns.increment("s"), {
        name: "TypeError",
        message: 'datastore increment(): key "s" holds a string, not a number; nothing was changed',
      });
      await ns.set("big", Number.MAX_VALUE);
      await assert.rejects(ns.increment("big", Number.MAX_VALUE), /would hold Infinity/);
      assert.equal(await ns.get("big"), Number.MAX_VALUE);
      await assert.rejects(ns.increment("n", Number.NaN), { name: "RangeError" });
      await assert.rejects(ns.increment("n", "1" as unknown as number), {
        name: "TypeError",
        message: 'datastore increment() step must be a number, got string "1"',
      });
      assert.equal(await ns.get("s"), "text");
      await store.close();
    });

    test("push, pop and shift work on arrays; the key stays as []", async () => {
      const { store, ns } = await namespace();
      assert.equal(await ns.push("q", 1), 1);
      assert.equal(await ns.push("q", { two: 2 }), 2);
      assert.equal(await ns.push("q", [3]), 3);
      assert.equal(await ns.push("q", null), 4);
      assert.deepEqual(await ns.get("q"), [1, { two: 2 }, [3], null]);
      assert.equal(await ns.pop("q"), null);
      assert.equal(await ns.shift("q"), 1);
      assert.deepEqual(await ns.pop("q"), [3]);
      assert.deepEqual(await ns.shift("q"), { two: 2 });
      assert.equal(await ns.pop("q"), undefined);
      assert.equal(await ns.shift("q"), undefined);
      assert.deepEqual(await ns.get("q"), []);
      assert.equal(await ns.pop("missing"), undefined);
      assert.equal(await ns.has("missing"), false, "pop of a missing key creates nothing");
      await ns.set("obj", { a: 1 });
      for (const op of ["push", "pop", "shift"] as const) {
        const call = op === "push" ? ns.push("obj", 1) : ns[op]("obj");
        await assert.rejects(call, {
          name: "TypeError",
          message: `datastore ${op}(): key "obj" holds an object, not an array; nothing was changed`,
        });
      }
      assert.deepEqual(await ns.get("obj"), { a: 1 });
      await store.close();
    });

    test("bad keys and values are refused with errors that name them, and nothing is stored", async () => {
      const { store, ns } = await namespace();
      await assert.rejects(ns.get(42 as unknown as string), {
        name: "TypeError",
        message: "a datastore key must be a string, got number 42",
      });
      await assert.rejects(ns.set("", 1), { name: "RangeError", message: "a datastore key must not be empty" });
      await assert.rejects(ns.set("x".repeat(2049), 1), {
        name: "RangeError",
        message: /2049 bytes long; the maximum is 2048/,
      });
      await ns.set("é".repeat(1024), 1); // 2048 bytes: allowed
      await assert.rejects(ns.set("é".repeat(1024) + "x", 1), { name: "RangeError", message: /2049 bytes/ });
      await assert.rejects(ns.set("\ud800", 1), { name: "RangeError", message: /lone surrogate/ });
      const bad: [unknown, RegExp][] = [
        [undefined, /^value is undefined, which is not JSON data/],
        [{ a: undefined }, /^value\.a is undefined/],
        [{ f() {} }, /^value\.f is a function \(f\)/],
        [[1, Number.NaN], /^value\[1\] is NaN.*JSON has no NaN or Infinity/],
        [{ "a b": Infinity }, /^value\["a b"\] is Infinity/],
        [{ when: new Date(0) }, /^value\.when is a Date.*toISOString/],
        [new Map(), /^value is a Map/],
        [10n, /^value is the bigint 10n/],
        [Symbol("s"), /^value is a symbol \(Symbol\(s\)\)/],
        // eslint-disable-next-line no-sparse-arrays -- a hole is the point
        [[1, , 3], /^value\[1\] is a hole in a sparse array/],
      ];
      for (const [value, message] of bad) {
        await assert.rejects(ns.set("bad", value), { name: "TypeError", message }, String(message));
        await assert.rejects(ns.push("bad", value), { name: "TypeError", message });
      }
      const cycle: Record<string, unknown> = {};
      cycle["self"] = cycle;
      await assert.rejects(ns.set("bad", cycle), { name: "TypeError", message: /^value\.self refers back.*cycle/ });
      let deep: unknown = 1;
      for (let i = 0; i < 1001; i++) deep = [deep];
      await assert.rejects(ns.set("bad", deep), { name: "RangeError", message: /deeper than 1000 levels/ });
      const shared = { x: 1 };
      await ns.set("shared", [shared, shared]); // the same object twice is not a cycle
      assert.equal(await ns.has("bad"), false);
      await assert.rejects(ns.keys({ limit: 0 }), { name: "RangeError", message: /at least 1, got 0/ });
      await assert.rejects(ns.keys({ cursor: "x" } as never), {
        name: "TypeError",
        message: /unknown datastore keys\(\) option "cursor"/,
      });
      await assert.rejects(ns.keys({ prefix: 1 } as never), {
        name: "TypeError",
        message: /key prefix must be a string/,
      });
      await store.close();
    });

    test("namespace names are checked", async () => {
      const store = await openStore(backend.url());
      for (const good of ["a", "users", "user:42", "app.v2-cache", "_x", "9", "x".repeat(128)]) store.namespace(good);
      for (const bad of ["", ".x", "-x", ":x", "a b", "é", "a/b", "x".repeat(129)]) {
        assert.throws(() => store.namespace(bad), { name: "RangeError", message: /invalid datastore namespace name/ });
      }
      assert.throws(() => store.namespace(7 as unknown as string), { name: "TypeError", message: /got number 7/ });
      await store.close();
    });
  });
}
