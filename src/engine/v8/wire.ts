/**
 * What the host and a V8 sandbox process agree on besides the shared message
 * protocol (`../protocol.ts`).
 */

/**
 * Runs a sandbox process is given at a time; the host queues the rest. The
 * process keeps as many isolates warm, so that it never creates an isolate for
 * a run (about 1 ms) while its cores are busy anyway.
 */
export const RUNS_PER_PROCESS = 2;
