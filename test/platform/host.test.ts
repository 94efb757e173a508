/** nodePlatformHost: the host side of the platform layer validates what a guest may pass. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { nodePlatformHost } from "../../src/platform/index.js";

test("randomBytes returns 2n hex digits and refuses bad sizes", () => {
  const host = nodePlatformHost();
  assert.match(host.randomBytes(16), /^[0-9a-f]{32}$/);
  assert.equal(host.randomBytes(0), "");
  assert.equal(host.randomBytes(65536).length, 131072);
  for (const bad of [-1, 1.5, 65537, NaN, "4" as unknown as number])
    assert.throws(() => host.randomBytes(bad), RangeError);
});

test("digest hashes hex data and refuses unknown algorithms and non-hex data", () => {
  const host = nodePlatformHost();
  assert.equal(host.digest("SHA-256", "616263"), createHash("sha256").update("abc").digest("hex"));
  assert.equal(host.digest("SHA-1", ""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(host.digest("SHA-512", "00").length, 128);
  assert.throws(() => host.digest("MD5", ""), TypeError);
  assert.throws(() => host.digest("sha-256", ""), TypeError);
  assert.throws(() => host.digest("SHA-256", "abc"), TypeError);
  assert.throws(() => host.digest("SHA-256", "zz"), TypeError);
});

test("now is relative to the host's creation and monotonic", async () => {
  const host = nodePlatformHost();
  const a = host.now();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const b = host.now();
  assert.ok(a >= 0 && a < 50);
  assert.ok(b > a);
});
