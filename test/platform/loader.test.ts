/**
 * The loader's laziness and contract, in a bare node:vm context (a V8 context
 * without Node's globals, like an isolated-vm one): which groups load when,
 * how often `source`/`evaluate` are called, and what install leaves behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import {
  PLATFORM_GLOBALS,
  PLATFORM_GROUP_NAMES,
  PLATFORM_LOADER_SOURCE,
  nodePlatformHost,
  platformGroupSource,
  type PlatformInstall,
} from "../../src/platform/index.js";

function fresh() {
  const context = vm.createContext({});
  const loaded: string[] = [];
  const rawEval = vm.runInContext("(0, eval)", context) as (code: string) => unknown;
  const install = vm.runInContext(PLATFORM_LOADER_SOURCE, context) as PlatformInstall;
  install(
    vm.runInContext("globalThis", context) as object,
    nodePlatformHost(),
    (code, group) => {
      loaded.push(group);
      return rawEval(code);
    },
    platformGroupSource,
  );
  return { run: (code: string) => vm.runInContext(code, context) as unknown, loaded };
}

test("the loader source is small and evaluates to install", () => {
  assert.ok(PLATFORM_LOADER_SOURCE.length < 4096, `loader is ${PLATFORM_LOADER_SOURCE.length} characters`);
  assert.equal(typeof vm.runInContext(PLATFORM_LOADER_SOURCE, vm.createContext({})), "function");
});

test("installing loads no group", () => {
  const { run, loaded } = fresh();
  assert.deepEqual(loaded, []);
  assert.equal(run("Object.keys(globalThis).length"), 0);
});

test("each group loads on first use of one of its globals, once", () => {
  const { run, loaded } = fresh();
  run("typeof URL");
  assert.deepEqual(loaded, ["url"]);
  run("new URL('http://a.example/'); URLSearchParams");
  assert.deepEqual(loaded, ["url"], "an ASCII host needs neither encoding nor idna");
  run("new URL('http://a.example/é')");
  assert.deepEqual(loaded, ["url", "encoding"]);
  run("new URL('http://bücher.example/')");
  assert.deepEqual(loaded, ["url", "encoding", "idna"]);
  run("new Headers({ a: '1' })");
  assert.deepEqual(loaded.slice(3), ["fetch"], "Headers needs no other group");
});

test("every group loads and every global settles", () => {
  const { run, loaded } = fresh();
  for (const name of Object.keys(PLATFORM_GLOBALS)) {
    assert.notEqual(run(`typeof ${name}`), "undefined", name);
    assert.deepEqual(
      run(
        `JSON.stringify((({ writable, enumerable, configurable, get }) => [writable, enumerable, configurable, typeof get])(Object.getOwnPropertyDescriptor(globalThis, ${JSON.stringify(name)})))`,
      ),
      JSON.stringify([true, false, true, "undefined"]),
      name,
    );
  }
  run("new URL('http://bücher.example/')");
  assert.deepEqual([...loaded].sort(), [...PLATFORM_GROUP_NAMES].sort());
});

test("a failing group load leaves the accessor in place", () => {
  const context = vm.createContext({});
  let fail = true;
  const rawEval = vm.runInContext("(0, eval)", context) as (code: string) => unknown;
  (vm.runInContext(PLATFORM_LOADER_SOURCE, context) as PlatformInstall)(
    vm.runInContext("globalThis", context) as object,
    nodePlatformHost(),
    (code) => {
      if (fail) throw new Error("no memory");
      return rawEval(code);
    },
    platformGroupSource,
  );
  assert.throws(() => vm.runInContext("URL", context), /no memory/);
  fail = false;
  assert.equal(vm.runInContext("typeof URL", context), "function");
});

test("platformGroupSource refuses unknown groups", () => {
  assert.throws(() => platformGroupSource("nope"), /unknown platform group/);
  assert.throws(() => platformGroupSource("__proto__"), /unknown platform group/);
});
