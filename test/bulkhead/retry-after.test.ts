import { test } from "node:test";
import assert from "node:assert/strict";
import { isOverloadError } from "../../src/errors/index.js";
import { DrainRateMeter, RetryAfterAdvisor } from "../../src/bulkhead/retry-after.js";
import { closeBulkheads, flush, makeBulkhead } from "./helpers.js";

test("the drain rate is completions per second, smoothed over windows", () => {
  const meter = new DrainRateMeter({ windowMs: 100, smoothingMs: 1000 });
  assert.equal(meter.perSecond(0), undefined, "no data yet");
  for (let t = 0; t <= 90; t += 10) meter.record(t);
  assert.equal(meter.perSecond(95), undefined, "no full sample yet");
  for (let t = 100; t <= 2000; t += 10) meter.record(t); // 100 per second
  assert.ok(Math.abs(meter.perSecond(2000)! - 100) < 3, `${meter.perSecond(2000)}`);
  for (let t = 2020; t <= 6000; t += 20) meter.record(t); // slows to 50 per second
  const slowed = meter.perSecond(6000)!;
  assert.ok(Math.abs(slowed - 50) < 3, `${slowed}`);
});

test("a change of pace shows within about the smoothing time", () => {
  const meter = new DrainRateMeter({ windowMs: 100, smoothingMs: 1000 });
  for (let t = 0; t <= 3000; t += 10) meter.record(t); // 100/s
  for (let t = 3100; t <= 4000; t += 100) meter.record(t); // 10/s for about one smoothing time
  const rate = meter.perSecond(4000)!;
  assert.ok(rate < 50 && rate > 10, `between the old and the new pace: ${rate}`);
});

test("quiet time after contention ends is not read as slow draining", () => {
  const meter = new DrainRateMeter({ windowMs: 100, smoothingMs: 1000 });
  for (let t = 0; t <= 1000; t += 10) meter.record(t);
  meter.interrupt(); // nobody waits any more
  for (let t = 61_000; t <= 61_200; t += 10) meter.record(t); // contention again a minute later
  assert.ok(Math.abs(meter.perSecond(61_200)! - 100) < 1, `${meter.perSecond(61_200)}`);
});

test("a stall shows before the next completion", () => {
  const meter = new DrainRateMeter({ windowMs: 100, smoothingMs: 1000 });
  for (let t = 0; t <= 1000; t += 10) meter.record(t); // 100/s
  assert.ok(meter.perSecond(1020)! > 90, "a short pause is just jitter");
  assert.ok(meter.perSecond(1500)! <= 2, `nothing completed for 500 ms: ${meter.perSecond(1500)}`);
});

test("advice: base without data, at least 1 s, capped, rounded up", () => {
  const advisor = new RetryAfterAdvisor(5, 30);
  assert.equal(advisor.advise(0, 10, undefined), 5);
  assert.equal(new RetryAfterAdvisor(5, 30).advise(0, 0, 1000), 1, "never below 1 s");
  assert.equal(new RetryAfterAdvisor(5, 30).advise(0, 10, 4), 3, "(10 ahead + itself) / 4 per s = 2.75 s -> 3");
  assert.equal(new RetryAfterAdvisor(5, 30).advise(0, 1000, 1), 30, "capped");
  assert.equal(new RetryAfterAdvisor(5, 30).advise(0, 1, 0), 30, "nothing drains: the cap");
});

test("advice spreads a burst: each rejected client is one drain interval behind the previous", () => {
  const advisor = new RetryAfterAdvisor(5, 600);
  const advice = Array.from({ length: 40 }, () => advisor.advise(0, 20, 10));
  assert.equal(advice[0], 3); // 21 / 10 per s
  assert.equal(advice.at(-1), 6); // (20 ahead + 40) / 10 per s
  assert.ok(
    advice.every((a, i) => i === 0 || a >= advice[i - 1]!),
    "never decreasing within a burst",
  );
  assert.equal(advisor.isSpent(1000), false);
  assert.equal(advisor.isSpent(6001), true);
});

test("a request taking a queue place pushes the advised clients back", () => {
  const advisor = new RetryAfterAdvisor(5, 600);
  advisor.advise(0, 20, 10); // horizon 2.1 s
  for (let i = 0; i < 30; i++) advisor.admitted(100); // 3 s more demand
  assert.equal(advisor.advise(100, 20, 10), 6); // 2.1 + 3 + 0.1 - 0.1 -> 5.1 s after now -> 6
});

test("an OverloadError's Retry-After falls back to retryAfterSeconds before any measurement", async () => {
  try {
    const bulkhead = makeBulkhead({ maxConcurrentPerUser: 1, maxQueuePerUser: 0, retryAfterSeconds: 7 });
    const running = bulkhead.acquire("a");
    const error = await bulkhead.acquire("a").catch((e: unknown) => e);
    assert.ok(isOverloadError(error));
    assert.equal(error.retryAfter, 7);
    (await running).release();
  } finally {
    await closeBulkheads();
  }
});

/** A tiny deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  /** Fraction of retries (requests sent after a 429's wait) that got a place. */
  admitted: number;
  retries: number;
  completed: number;
}

/**
 * Steady overload in virtual time: `clients` users each think (exponential,
 * mean 5 s), send a request that runs 0.5-1.5 s, and on a 429 wait either the
 * advised Retry-After or the fixed base before trying again. 10 slots drain
 * about 10 requests per second; the clients ask for about 25.
 */
async function simulate(mode: "advised" | "fixed", seed: number): Promise<Outcome> {
  const clients = 150;
  const durationMs = 120_000;
  const fixedSeconds = 5;
  let now = 0;
  const rand = random(seed);
  const exponential = (mean: number): number => -Math.log(1 - rand()) * mean;
  const bulkhead = makeBulkhead({
    now: () => now,
    maxConcurrentGlobal: 10,
    maxQueueGlobal: 20,
    maxConcurrentPerUser: 3,
    maxQueuePerUser: 10,
    queueTimeoutMs: 0, // no real timers in virtual time
    retryAfterSeconds: fixedSeconds,
    maxRetryAfterSeconds: 120,
  });
  const events: { at: number; seq: number; run: () => void }[] = [];
  let seq = 0;
  const schedule = (at: number, run: () => void): void => void events.push({ at, seq: seq++, run });
  const outcome: Outcome = { admitted: 0, retries: 0, completed: 0 };
  let admittedRetries = 0;

  const send = (client: number, isRetry: boolean): void => {
    bulkhead.acquire(`client-${client}`).then(
      (permit) => {
        if (isRetry) admittedRetries++;
        schedule(now + 500 + 1000 * rand(), () => {
          permit.release();
          outcome.completed++;
          schedule(now + exponential(5000), () => send(client, false));
        });
      },
      (error: unknown) => {
        if (!isOverloadError(error)) return; // closed at the end
        const waitSeconds = mode === "advised" ? error.retryAfter : fixedSeconds;
        schedule(now + waitSeconds * 1000, () => send(client, true));
      },
    );
    if (isRetry) outcome.retries++;
  };

  for (let client = 0; client < clients; client++) schedule(exponential(5000), () => send(client, false));
  for (;;) {
    let next = 0;
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i]!, events[next]!];
      if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) next = i;
    }
    const event = events[next];
    if (event === undefined || event.at > durationMs) break;
    events.splice(next, 1);
    now = event.at;
    event.run();
    await flush(); // let the bulkhead's promises settle at this instant
  }
  await bulkhead.close();
  await flush();
  outcome.admitted = admittedRetries / Math.max(1, outcome.retries);
  return outcome;
}

test("accuracy: under steady overload, clients honouring the advised Retry-After get in far more often", async () => {
  try {
    const advised = await simulate("advised", 7);
    const fixed = await simulate("fixed", 7);
    const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
    console.log(
      `Retry-After accuracy (150 clients, 10 slots, ~2.5x overload, 120 s virtual): ` +
        `advised -> ${pct(advised.admitted)} of ${advised.retries} retries admitted; ` +
        `fixed 5 s -> ${pct(fixed.admitted)} of ${fixed.retries} retries admitted; ` +
        `completed ${advised.completed} vs ${fixed.completed}`,
    );
    assert.ok(
      advised.admitted > fixed.admitted + 0.2 && advised.admitted > 1.5 * fixed.admitted,
      `advised ${advised.admitted} vs fixed ${fixed.admitted}`,
    );
    // The advice parks the excess without costing throughput: the slots stay busy.
    assert.ok(advised.completed >= 0.95 * fixed.completed, `${advised.completed} vs ${fixed.completed}`);
  } finally {
    await closeBulkheads();
  }
});
