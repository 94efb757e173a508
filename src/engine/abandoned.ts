/**
 * Isolates abandoned after a fatal V8 out-of-memory. isolated-vm parks such an
 * isolate's thread for good, and the process can no longer run or exit
 * reliably (its exit path waits for that thread). Only V8 sandbox processes
 * load isolated-vm; one that abandons an isolate retires and is replaced.
 */
let abandoned = 0;

/*
 * Everything that belonged to an abandoned isolate stays strongly referenced
 * for the life of the process: if the host's garbage collector finalised one of
 * those handles, its destructor would wait on the parked isolate and freeze the
 * host's main thread.
 */
const graveyard: unknown[] = [];

/** Counts one abandoned isolate and keeps its handles alive for good. */
export function recordAbandonedIsolate(...handles: unknown[]): void {
  abandoned++;
  graveyard.push(handles);
}

/** Keeps more handles of an already abandoned isolate alive for good. */
export function buryWithAbandonedIsolate(...handles: unknown[]): void {
  graveyard.push(handles);
}

/** How many isolates this process has abandoned. */
export function abandonedIsolateCount(): number {
  return abandoned;
}
