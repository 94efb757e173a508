/**
 * The memory backend: the embedded default. Entries live in this process's
 * heap and go when the datastore closes. Every operation runs synchronously,
 * so the cap check and the write are one step with nothing in between.
 */
import type { DatastoreBackend } from "./backend.js";
import { compareCodePoints, LocalBackend, type EntryTable } from "./local.js";

interface Entry {
  readonly json: string;
  readonly bytes: number;
}

interface NamespaceState {
  readonly entries: Map<string, Entry>;
  used: number;
}

/** Entries in Maps, one per namespace; a namespace's state goes when it empties. */
class MemoryTable implements EntryTable {
  private readonly namespaces = new Map<string, NamespaceState>();

  atomic<T>(fn: () => T): T {
    // Single-threaded and synchronous: nothing runs between the check and the write.
    return fn();
  }

  read(namespace: string, key: string): string | undefined {
    return this.namespaces.get(namespace)?.entries.get(key)?.json;
  }

  bytesOf(namespace: string, key: string): number | undefined {
    return this.namespaces.get(namespace)?.entries.get(key)?.bytes;
  }

  write(namespace: string, key: string, json: string, bytes: number): void {
    let state = this.namespaces.get(namespace);
    if (state === undefined) {
      state = { entries: new Map(), used: 0 };
      this.namespaces.set(namespace, state);
    }
    state.entries.set(key, { json, bytes });
  }

  remove(namespace: string, key: string): void {
    this.namespaces.get(namespace)?.entries.delete(key);
  }

  used(namespace: string): number {
    return this.namespaces.get(namespace)?.used ?? 0;
  }

  setUsed(namespace: string, bytes: number): void {
    const state = this.namespaces.get(namespace);
    if (state === undefined) return; // only reached with bytes 0: nothing was ever written
    if (state.entries.size === 0) this.namespaces.delete(namespace);
    else state.used = bytes;
  }

  has(namespace: string, key: string): boolean {
    return this.namespaces.get(namespace)?.entries.has(key) ?? false;
  }

  keys(namespace: string, prefix: string, limit: number | undefined): string[] {
    const entries = this.namespaces.get(namespace)?.entries;
    if (entries === undefined) return [];
    // A filter and a sort per call: simple, and fine at the sizes a memory store holds.
    const keys = [...entries.keys()].filter((key) => key.startsWith(prefix)).sort(compareCodePoints);
    return limit === undefined ? keys : keys.slice(0, limit);
  }

  close(): void {
    this.namespaces.clear();
  }
}

/** A new, empty memory backend. */
export function openMemoryBackend(): DatastoreBackend {
  return new LocalBackend("memory", "memory:", new MemoryTable());
}
