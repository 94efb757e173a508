/**
 * Isolates abandoned after a fatal V8 out-of-memory. isolated-vm parks such an
 * isolate's thread for good; the host keeps running, but Node can no longer
 * exit normally (its exit path waits for that thread). Hosts that must exit
 * read this count and end the process with a signal.
 */
let abandoned = 0;

/** Counts one abandoned isolate. */
export function recordAbandonedIsolate(): void {
  abandoned++;
}

/** How many isolates this process has abandoned. */
export function abandonedIsolateCount(): number {
  return abandoned;
}
