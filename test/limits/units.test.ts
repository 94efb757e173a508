import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSize, formatSizeApprox, parseDuration, parseSize } from "../../src/units/index.js";

test("durations: bare number is ms, units scale, fractions scale exactly", () => {
  assert.equal(parseDuration("50"), 50);
  assert.equal(parseDuration(75), 75);
  assert.equal(parseDuration("50ms"), 50);
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("5min"), 300_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration(" 10 ms "), 10);
  assert.equal(parseDuration("1_000"), 1000);
});

test("sizes: MB is 10^6 and MiB is 2^20, case-insensitive", () => {
  assert.equal(parseSize("128MB"), 128_000_000);
  assert.equal(parseSize("128mb"), 128_000_000);
  assert.equal(parseSize("64MiB"), 64 * 2 ** 20);
  assert.equal(parseSize("1GiB"), 2 ** 30);
  assert.equal(parseSize("1GB"), 1e9);
  assert.equal(parseSize("1.5KB"), 1500);
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("10B"), 10);
});

test("unknown units and garbage are refused with the expected form", () => {
  for (const bad of ["12XB", "5 minutes", "abc", "", "ms", "1e", "--5"]) {
    assert.throws(() => parseSize(bad), /cannot read|unknown unit/, bad);
  }
  assert.throws(
    () => parseDuration("5m"),
    (e: Error & { expected?: string }) => /unknown unit "m"/.test(e.message) && /5min/.test(e.expected ?? ""),
  );
});

test("formatSize picks the largest exact unit", () => {
  assert.equal(formatSize(1e9), "1GB");
  assert.equal(formatSize(50e6), "50MB");
  assert.equal(formatSize(128 * 2 ** 20), "128MiB");
  assert.equal(formatSize(1500), "1500B");
  assert.equal(formatSize(2000), "2KB");
  assert.equal(formatSize(1023), "1023B");
});

test("formatSizeApprox rounds measured sizes to three significant digits for display", () => {
  assert.deepEqual([0, 212, 999, 1000, 45_210, 1_665_793, 2.5e9].map(formatSizeApprox), [
    "0B",
    "212B",
    "999B",
    "1KB",
    "45.2KB",
    "1.67MB",
    "2.5GB",
  ]);
});
