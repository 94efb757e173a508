import { closeSync, openSync, readSync } from "node:fs";

/** A clock of the CPU time used by the calling thread. */
export interface ThreadCpuClock {
  /** CPU milliseconds the thread has used so far (monotonic). */
  now(): number;
  /** True when the clock measures this thread's CPU; false when it falls back to wall time (an upper bound). */
  readonly precise: boolean;
  /** Releases the clock's file descriptor, if any. */
  close(): void;
}

/**
 * Opens a CPU clock for the calling thread. On Linux it reads
 * `/proc/thread-self/schedstat` (nanoseconds on CPU, about 4 µs per read);
 * the descriptor must be opened by the thread it measures. Node 20 has no
 * per-thread CPU clock of its own (`process.cpuUsage()` counts every thread
 * of the process), so elsewhere the clock falls back to wall time, which
 * bounds the thread's CPU time from above: CPU budgets then act like
 * wall-clock budgets.
 */
export function openThreadCpuClock(): ThreadCpuClock {
  let fd: number | undefined;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
    const buffer = Buffer.alloc(64);
    const read = (): number => {
      const length = readSync(fd!, buffer, 0, buffer.length, 0);
      let nanoseconds = 0;
      for (let i = 0; i < length; i++) {
        const digit = buffer[i]! - 48;
        if (digit < 0 || digit > 9) break;
        nanoseconds = nanoseconds * 10 + digit;
      }
      return nanoseconds / 1e6;
    };
    if (!(read() >= 0)) throw new Error("unreadable schedstat");
    return {
      now: read,
      precise: true,
      close: () => {
        if (fd !== undefined) closeSync(fd);
        fd = undefined;
      },
    };
  } catch {
    if (fd !== undefined) closeSync(fd);
    return { now: () => performance.now(), precise: false, close: () => {} };
  }
}
