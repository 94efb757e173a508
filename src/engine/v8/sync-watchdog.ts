import ivm from "isolated-vm";
import type { WatchdogTrip } from "../watchdog.js";

/**
 * How often an idle watchdog looks for a call that started, and the longest it sleeps during
 * one: a call's CPU or wall-clock budget is enforced within this much of its end.
 */
const PERIOD_MS = 5;

// The shared state, as Int32 fields then Float64 fields (see LOOP_SOURCE).
const ACTIVE = 0; // the number of the synchronous call in progress; IDLE, or CLAIMED by the watchdog
const SLOT = 1; // the slot of that call's isolate
const TRIPPED = 2; // the budget the watchdog enforces on a call it claimed: 1 CPU, 2 wall clock
const STOP = 4; // 1: the loop returns (to take another set of isolates)
const RUNNING = 5; // 1 while the loop runs
const INTS = 8;
const IDLE = 0;
/**
 * ACTIVE once the watchdog has taken the call in progress to stop it. Taken with a
 * compare-and-exchange on the call's number, and given back by the main thread's exchange as the
 * call ends: whichever comes first decides, so a call that ends as its budget runs out is either
 * answered or stopped, never both, and the stop never lands on the next call.
 */
const CLAIMED = -1;
const CPU_START = 0; // the isolate's cpuTime at the call's start, in ns
const CPU_LIMIT = 1; // the call's CPU budget in ns (Infinity: none)
const DEADLINE = 2; // Date.now() at which the call's wall clock runs out (Infinity: never)
const OBSERVED = 3; // the CPU milliseconds the call had used when the watchdog claimed it
const HOST = 4; // ns the main thread spent in the call's synchronous callbacks (not on the isolate's clock)

/**
 * The watchdog's loop, run by isolated-vm on one of its threads in an isolate of its own: it
 * sleeps on the shared state (the main thread never wakes it, so a call costs no thread switch)
 * and disposes the isolate of a synchronous call that outruns its budget, which ends that call
 * on the main thread. Arguments: the shared memory, then slot and isolate pairs.
 */
const LOOP_SOURCE = `(function (shared) {
  "use strict";
  const ints = new Int32Array(shared, 0, ${INTS});
  const floats = new Float64Array(shared, ${INTS * 4}, 5);
  const targets = [];
  for (let i = 1; i + 1 < arguments.length; i += 2) targets[arguments[i]] = arguments[i + 1];
  Atomics.store(ints, ${RUNNING}, 1);
  for (;;) {
    if (Atomics.load(ints, ${STOP}) === 1) {
      Atomics.store(ints, ${RUNNING}, 0);
      return;
    }
    const call = Atomics.load(ints, ${ACTIVE});
    const target = call > ${IDLE} ? targets[Atomics.load(ints, ${SLOT})] : undefined;
    if (target === undefined) {
      Atomics.wait(ints, ${ACTIVE}, call, ${PERIOD_MS});
      continue;
    }
    let usedNs;
    try {
      usedNs = Number(target.cpuTime) - floats[${CPU_START}] + floats[${HOST}];
    } catch {
      usedNs = 0; // disposed meanwhile: nothing left to stop
    }
    const cpuLeftMs = (floats[${CPU_LIMIT}] - usedNs) / 1e6;
    const wallLeftMs = floats[${DEADLINE}] - Date.now();
    if (cpuLeftMs <= 0 || wallLeftMs <= 0) {
      // Written before the claim, read by the main thread only after it (end()).
      floats[${OBSERVED}] = usedNs / 1e6;
      Atomics.store(ints, ${TRIPPED}, cpuLeftMs <= 0 ? 1 : 2);
      if (Atomics.compareExchange(ints, ${ACTIVE}, call, ${CLAIMED}) === call) {
        try {
          target.dispose();
        } catch {}
      }
      continue;
    }
    // CPU time cannot grow faster than wall time: nothing can run out before the nearer budget.
    Atomics.wait(ints, ${ACTIVE}, call, Math.max(0, Math.min(cpuLeftMs, wallLeftMs, ${PERIOD_MS})));
  }
})`;

/** A synchronous call's budgets, for {@link SyncWatchdog.begin}. */
export interface SyncBudget {
  /** The isolate's `cpuTime` (ns) when the call started. */
  cpuStartNs: number;
  /** CPU milliseconds the call may use in all (0: no limit). */
  cpuTimeMs: number;
  /** Wall-clock milliseconds the call has left (0: no limit). */
  wallLeftMs: number;
  /** The call's wall-clock limit, to report (0: none). */
  timeoutMs: number;
  /** When the call started (`Date.now()`), to report the wall clock it used. */
  startedAt: number;
}

/**
 * Enforces the CPU and wall-clock budgets of the synchronous calls a sandbox process makes into
 * warm isolates (`instance.ts`), while its main thread is inside them and its timers cannot fire.
 * One per process: an isolate of its own whose loop runs on one of isolated-vm's threads for good
 * and watches whichever registered isolate is in a call, through shared memory. Registering or
 * removing an isolate restarts the loop (it takes its isolates as arguments); until it runs again
 * {@link ready} is false and calls go the asynchronous way.
 */
export class SyncWatchdog {
  private readonly shared = new SharedArrayBuffer(INTS * 4 + 5 * 8);
  private readonly ints = new Int32Array(this.shared, 0, INTS);
  private readonly floats = new Float64Array(this.shared, INTS * 4, 5);
  private readonly isolate = new ivm.Isolate({ memoryLimit: 8 });
  private readonly loop: ivm.Reference<(...args: unknown[]) => void>;
  private readonly targets = new Map<number, ivm.Isolate>();
  private nextSlot = 0;
  /** The loop now running, settled when it returns. */
  private running: Promise<unknown> = Promise.resolve();
  /** Restarts chained one after another. */
  private restarts: Promise<void> = Promise.resolve();
  private restarting = 0;
  private disposed = false;
  /** The number of the latest synchronous call. */
  private call = 0;

  constructor() {
    const context = this.isolate.createContextSync();
    this.loop = context.evalSync(LOOP_SOURCE, { reference: true }) as SyncWatchdog["loop"];
  }

  /** True when a synchronous call can be watched now. */
  get ready(): boolean {
    return !this.disposed && this.restarting === 0 && Atomics.load(this.ints, RUNNING) === 1;
  }

  /** Watches `isolate`'s synchronous calls from now on; resolves with its slot once the loop runs again. */
  async add(isolate: ivm.Isolate): Promise<number> {
    const slot = this.nextSlot++;
    this.targets.set(slot, isolate);
    await this.restart();
    return slot;
  }

  /** Stops watching a slot's isolate (disposed, or about to be). */
  remove(slot: number): void {
    if (this.targets.delete(slot)) void this.restart();
  }

  /**
   * A synchronous call on `slot`'s isolate starts now. Only writes to the shared memory: the
   * loop sees the call within {@link PERIOD_MS}, before the call can have run out of anything.
   * Returns the call's number, for {@link end}.
   */
  begin(slot: number, budget: SyncBudget): number {
    this.floats[CPU_START] = budget.cpuStartNs;
    this.floats[HOST] = 0;
    this.floats[CPU_LIMIT] = budget.cpuTimeMs > 0 ? budget.cpuTimeMs * 1e6 : Infinity;
    this.floats[DEADLINE] = budget.wallLeftMs > 0 ? Date.now() + budget.wallLeftMs : Infinity;
    this.ints[SLOT] = slot;
    // Numbers stay positive: IDLE and CLAIMED are not calls.
    this.call = this.call >= 0x7fffffff ? 1 : this.call + 1;
    Atomics.store(this.ints, ACTIVE, this.call);
    return this.call;
  }

  /**
   * The main thread spent `ms` in one of the call's synchronous callbacks (instrumenting eval's
   * code, say), time the isolate's CPU clock does not count: it counts against the call's budget.
   */
  spend(ms: number): void {
    if (Atomics.load(this.ints, ACTIVE) > IDLE) this.floats[HOST]! += ms * 1e6;
  }

  /**
   * The call on `isolate` is over: the budget the watchdog enforced on it, if it claimed it first
   * (it disposes the isolate then, whatever the call answered).
   */
  end(budget: SyncBudget, isolate: ivm.Isolate): WatchdogTrip | undefined {
    if (Atomics.exchange(this.ints, ACTIVE, IDLE) !== CLAIMED) return undefined;
    // The watchdog disposes the isolate right after its claim: wait for it (briefly), so that
    // nothing of the call's end touches an isolate another thread is disposing.
    const until = Date.now() + 100;
    while (!isolate.isDisposed && Date.now() < until) Atomics.wait(this.ints, STOP, 0, 1);
    const observed = Math.round(this.floats[OBSERVED]!);
    if (Atomics.load(this.ints, TRIPPED) === 1) return { kind: "cpu", limit: budget.cpuTimeMs, observed };
    return { kind: "timeout", limit: budget.timeoutMs, observed: Math.round(Date.now() - budget.startedAt) };
  }

  /** Stops the loop and releases the watchdog's isolate. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.targets.clear();
    await this.stop();
    this.loop.release();
    this.isolate.dispose();
  }

  /**
   * Stops the loop before the process exits, waiting for it (up to 100 ms) on this thread: a
   * process that exits while the loop runs in its isolate crashes in its teardown.
   */
  stopForExit(): void {
    this.disposed = true;
    this.askToStop();
    const deadline = Date.now() + 100;
    while (Atomics.load(this.ints, RUNNING) === 1 && Date.now() < deadline) Atomics.wait(this.ints, RUNNING, 1, 10);
  }

  /** Tells the loop to return, and wakes it if it sleeps. */
  private askToStop(): void {
    Atomics.store(this.ints, STOP, 1);
    Atomics.notify(this.ints, ACTIVE);
  }

  private async stop(): Promise<void> {
    this.askToStop();
    await this.running;
    Atomics.store(this.ints, STOP, 0);
  }

  private restart(): Promise<void> {
    this.restarting++;
    this.restarts = this.restarts.then(async () => {
      try {
        await this.stop();
        if (this.disposed || this.targets.size === 0) return;
        const args: unknown[] = [new ivm.ExternalCopy(this.shared).copyInto({ release: true })];
        for (const [slot, isolate] of this.targets) if (!isolate.isDisposed) args.push(slot, isolate);
        let ended = false;
        this.running = this.loop.apply(undefined, args as never[]).then(
          () => (ended = true),
          () => (ended = true),
        );
        // Ready once the loop says it runs (its first statement); a loop that could not start
        // leaves calls asynchronous.
        while (!ended && !this.disposed && Atomics.load(this.ints, RUNNING) === 0) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } catch {
        // The loop could not start (its isolate gone, say): calls stay asynchronous, and the
        // next restart tries again.
      } finally {
        this.restarting--;
      }
    });
    return this.restarts;
  }
}
