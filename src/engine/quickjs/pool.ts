import { EngineError } from "../../errors/index.js";
import type { QuickJSWorker } from "./worker-handle.js";

/**
 * A fixed-size pool of QuickJS workers. Workers start lazily, up to `size`;
 * a run that finds every worker busy waits (FIFO) for the next one. A dead
 * or discarded worker leaves the pool, and a replacement starts at once so
 * that the pool stays warm.
 */
export class WorkerPool {
  private readonly all = new Set<QuickJSWorker>();
  /** Idle workers, most recently used last. */
  private readonly idle: QuickJSWorker[] = [];
  private readonly waiting: { resolve: (worker: QuickJSWorker) => void; reject: (error: Error) => void }[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly spawn: () => QuickJSWorker,
  ) {}

  /** Workers alive or starting. */
  get count(): number {
    return this.all.size;
  }

  /** Starts workers until `count` are alive or starting, and waits until they are ready. */
  async prewarm(count = 1): Promise<void> {
    const started: Promise<void>[] = [];
    while (this.all.size < Math.min(count, this.size)) started.push(this.start());
    await Promise.all(started);
  }

  /** Takes an idle worker, starting one if the pool is not full, or waits for one. */
  acquire(): Promise<QuickJSWorker> {
    if (this.closed) return Promise.reject(new EngineError("the quickjs engine is closed"));
    // The worker idle the longest has had the most time to prepare its next sandbox.
    while (this.idle.length > 0) {
      const worker = this.idle.shift()!;
      if (worker.alive) return Promise.resolve(worker);
      this.all.delete(worker);
    }
    const promise = new Promise<QuickJSWorker>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.all.size < this.size) this.start().catch(() => {});
    return promise;
  }

  /** An idle worker at once, or undefined when none is idle (never waits, never starts one). */
  tryAcquire(): QuickJSWorker | undefined {
    if (this.closed) return undefined;
    while (this.idle.length > 0) {
      const worker = this.idle.shift()!;
      if (worker.alive) return worker;
      this.all.delete(worker);
    }
    return undefined;
  }

  /** Gives a worker back after a run. A worker that is no longer alive is replaced. */
  release(worker: QuickJSWorker): void {
    if (!worker.alive || this.closed) {
      this.discard(worker);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(worker);
    else this.idle.push(worker);
  }

  /** Terminates a worker (stuck, damaged) and starts a replacement. */
  discard(worker: QuickJSWorker): void {
    this.all.delete(worker);
    const index = this.idle.indexOf(worker);
    if (index >= 0) this.idle.splice(index, 1);
    void worker.terminate().catch(() => {});
    if (!this.closed && this.all.size < this.size) this.start().catch(() => {});
  }

  private async start(): Promise<void> {
    if (this.closed) return;
    const worker = this.spawn();
    this.all.add(worker);
    try {
      await worker.ready;
    } catch (error) {
      this.all.delete(worker);
      void worker.terminate().catch(() => {});
      // Nothing else will start a worker for the waiting runs: tell them why.
      if (this.all.size === 0) {
        const failure = new EngineError(`the quickjs engine could not start a worker: ${(error as Error).message}`, {
          cause: error,
        });
        for (const waiter of this.waiting.splice(0)) waiter.reject(failure);
      }
      throw error;
    }
    if (this.closed) {
      void worker.terminate().catch(() => {});
      return;
    }
    this.release(worker);
  }

  /** Terminates every worker; waiting runs are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const failure = new EngineError("the quickjs engine is closed");
    for (const waiter of this.waiting.splice(0)) waiter.reject(failure);
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate().catch(() => {})));
  }
}
