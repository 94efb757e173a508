// Datastore URLs, options, and SQLite files that are not datastores.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { isConfigError } from "../../src/errors/index.js";
import { createDatastore, parseDatastoreUrl } from "../../src/datastore/index.js";
import { cleanUp, openFilesUnder, openStore, tempDir } from "./helpers.js";

afterEach(cleanUp);

const ROOT = resolve(import.meta.dirname, "../..");
const FORMS = `expected "memory:", "sqlite:./relative/path.db", "sqlite:/absolute/path.db" or "redis://host:6379"`;

describe("parseDatastoreUrl", () => {
  test("accepted forms", () => {
    assert.deepEqual(parseDatastoreUrl("memory:"), { kind: "memory" });
    assert.deepEqual(parseDatastoreUrl("MEMORY:"), { kind: "memory" });
    assert.deepEqual(parseDatastoreUrl("sqlite:/abs/path.db"), { kind: "sqlite", path: "/abs/path.db" });
    assert.deepEqual(parseDatastoreUrl("sqlite:./data.db", "/srv/app"), { kind: "sqlite", path: "/srv/app/data.db" });
    assert.deepEqual(parseDatastoreUrl("sqlite:data/x.db", "/srv"), { kind: "sqlite", path: "/srv/data/x.db" });
    assert.deepEqual(parseDatastoreUrl(" sqlite:/a b/c.db "), { kind: "sqlite", path: "/a b/c.db" });
    assert.deepEqual(parseDatastoreUrl("redis://127.0.0.1"), {
      kind: "redis",
      host: "127.0.0.1",
      port: 6379,
      db: 0,
      tls: false,
      prefix: "warden:ds",
      display: "redis://127.0.0.1",
    });
    assert.deepEqual(parseDatastoreUrl("rediss://app:p%40ss@[::1]:7000/3?prefix=shop:v2"), {
      kind: "redis",
      host: "::1",
      port: 7000,
      db: 3,
      tls: true,
      username: "app",
      password: "p@ss",
      prefix: "shop:v2",
      display: "rediss://app:***@[::1]:7000/3?prefix=shop:v2",
    });
  });

  test("bad URLs raise ConfigError naming the value, the problem and the accepted forms", () => {
    const cases: [unknown, string][] = [
      [
        "redis://:secret@localhost:6379/x",
        `invalid value "redis://:***@localhost:6379/x" from the datastore URL: the path names the database and must be a number such as "/0", got "/x"; ${FORMS}`,
      ],
      [
        "redis://localhost?db=2",
        `invalid value "redis://localhost?db=2" from the datastore URL: unknown query parameter "db" (the only one is "prefix"); ${FORMS}`,
      ],
      [
        "redis://localhost?prefix=a{b}",
        `invalid value "redis://localhost?prefix=a{b}" from the datastore URL: the key prefix "a{b}" must be 1 to 128 letters, digits, "_", "-", "." or ":"; ${FORMS}`,
      ],
      ["redis:x", `invalid value "redis:x" from the datastore URL: there is no host after "redis://"; ${FORMS}`],
      [
        "postgres://db/x",
        `invalid value "postgres://db/x" from the datastore URL: unknown scheme "postgres:"; ${FORMS}`,
      ],
      [
        "./data.db",
        `invalid value "./data.db" from the datastore URL: it has no scheme (for a SQLite file write "sqlite:./data.db"); ${FORMS}`,
      ],
      ["", `invalid value "" from the datastore URL: it is empty; ${FORMS}`],
      ["sqlite:", `invalid value "sqlite:" from the datastore URL: there is no file path after "sqlite:"; ${FORMS}`],
      [
        "sqlite://x.db",
        `invalid value "sqlite://x.db" from the datastore URL: "sqlite://" is ambiguous: write "sqlite:/absolute/path.db" or "sqlite:./relative/path.db"; ${FORMS}`,
      ],
      [
        "sqlite::memory:",
        `invalid value "sqlite::memory:" from the datastore URL: the path is taken literally; for a datastore in memory write "memory:"; ${FORMS}`,
      ],
      [
        "memory:x",
        `invalid value "memory:x" from the datastore URL: "memory:" takes nothing after the colon; ${FORMS}`,
      ],
      [42, `invalid value 42 from the datastore URL: a datastore URL is a string, not number; ${FORMS}`],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => parseDatastoreUrl(url),
        (error: unknown) => {
          assert.ok(isConfigError(error));
          assert.equal(error.message, message);
          return true;
        },
      );
    }
    assert.throws(() => parseDatastoreUrl("nope:", "/", "the flag --datastore"), /from the flag --datastore/);
  });
});

describe("createDatastore options", () => {
  test("maxDatastoreBytes takes bytes or sizes; bad values are ConfigErrors", async () => {
    for (const [raw, bytes] of [
      [2048, 2048],
      ["64KiB", 65536],
      ["10MB", 10_000_000],
      [-1, -1],
    ] as const) {
      const store = await openStore("memory:", { maxDatastoreBytes: raw });
      assert.equal(store.maxDatastoreBytes, bytes);
      assert.equal(store.namespace("n").maxDatastoreBytes, bytes);
      await store.close();
    }
    await assert.rejects(createDatastore("memory:", { maxDatastoreBytes: "lots" }), (error: unknown) => {
      assert.ok(isConfigError(error));
      assert.match(error.message, /^invalid value "lots" from the option maxDatastoreBytes/);
      return true;
    });
    await assert.rejects(createDatastore("memory:", { busyTimeoutMs: -5 }), /the option busyTimeoutMs.*0 or more/);
    await assert.rejects(
      createDatastore("memory:", { synchronous: "off" as never }),
      /the option synchronous; expected "full" or "normal"/,
    );
    const store = await openStore("memory:");
    assert.throws(() => store.namespace("n", { maxDatastoreBytes: "x" }), /the namespace option maxDatastoreBytes/);
    await store.close();
  });

  test("relative SQLite paths resolve against cwd", async () => {
    const dir = tempDir();
    const store = await openStore("sqlite:./rel.db", { cwd: dir });
    assert.equal(store.location, `sqlite:${join(dir, "rel.db")}`);
    assert.equal(store.kind, "sqlite");
    await store.close();
  });
});

describe("SQLite files that cannot be a datastore", () => {
  test("a missing directory, a foreign database, a newer schema and a non-database are ConfigErrors, with nothing left open", async () => {
    const dir = tempDir();
    await assert.rejects(createDatastore(`sqlite:${join(dir, "no/such/dir.db")}`), (error: unknown) => {
      assert.ok(isConfigError(error));
      assert.match(error.message, /cannot open .*dir\.db as a datastore: .*directory does not exist/);
      return true;
    });
    const foreign = join(dir, "foreign.db");
    const newer = join(dir, "newer.db");
    for (const [file, pragma] of [
      [foreign, "application_id = 1234"],
      [newer, "user_version = 9"],
    ] as const) {
      const db = new Database(file);
      db.pragma(pragma);
      db.exec("CREATE TABLE t (x)");
      db.close();
    }
    await assert.rejects(createDatastore(`sqlite:${foreign}`), /another application \(application_id 1234\)/);
    await assert.rejects(createDatastore(`sqlite:${newer}`), /written by a newer version \(schema 9/);
    const text = join(dir, "text.db");
    writeFileSync(text, "this is not a database, just some text long enough to have a header".repeat(10));
    await assert.rejects(createDatastore(`sqlite:${text}`), (error: unknown) => {
      assert.ok(isConfigError(error));
      assert.match(error.message, /file is not a database/);
      return true;
    });
    assert.deepEqual(openFilesUnder(dir), []);
  });

  test("importing the package, or opening a memory store, does not load the SQLite addon", () => {
    const script = `
      const { createDatastore } = await import(${JSON.stringify(join(ROOT, "src/index.ts"))});
      const store = await createDatastore("memory:");
      await store.close();
      const addon = (name) => process.report.getReport().sharedObjects.some((path) => path.includes(name));
      const before = addon("better_sqlite3");
      const sqlite = await createDatastore("sqlite:" + ${JSON.stringify(join(tempDir(), "x.db"))});
      await sqlite.close();
      console.log(JSON.stringify({ before, after: addon("better_sqlite3") }));
    `;
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { before: false, after: true });
  });
});
