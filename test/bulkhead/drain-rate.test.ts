import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterDrainRate } from "../../src/bulkhead/redis/drain-rate.js";

test("the cluster's drain rate: readings of the shared counter on Redis's clock, quiet spans skipped", () => {
  const rate = new ClusterDrainRate();
  assert.equal(rate.perSecond(), undefined);
  rate.update(1000, 0, 5);
  assert.equal(rate.perSecond(), undefined, "one reading is no rate");
  rate.update(2000, 20, 5);
  assert.equal(rate.perSecond(), 20);
  // Nobody waited at either end and nothing drained: quiet, not slow.
  rate.update(3000, 20, 0);
  rate.update(60_000, 20, 0);
  assert.equal(rate.perSecond(), 20);
  // Requests wait and nothing drains: a stall lowers the rate.
  rate.update(61_000, 20, 5);
  rate.update(62_000, 20, 5);
  assert.ok(rate.perSecond()! < 20);
  // A counter that went back (Redis restarted empty) is a fresh start, not a negative rate.
  const before = rate.perSecond();
  rate.update(63_000, 3, 5);
  assert.equal(rate.perSecond(), before);
});
