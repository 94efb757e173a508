import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatastore, type Datastore, type DatastoreOptions } from "../../src/datastore/index.js";

/** Every temporary directory made by {@link tempDir} in this process. */
const dirs: string[] = [];
const open = new Set<Datastore>();

/** A new empty temporary directory, removed by {@link cleanUp}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "warden-datastore-"));
  dirs.push(dir);
  return dir;
}

/** How a test opens a fresh store of one backend kind. */
export interface BackendCase {
  readonly name: "memory" | "sqlite" | "redis";
  /** A URL for a new, empty store. */
  url(): string;
}

/** The two local backends every shared suite runs against (Redis runs them in redis.test.ts). */
export const BACKENDS: readonly BackendCase[] = [
  { name: "memory", url: () => "memory:" },
  { name: "sqlite", url: () => `sqlite:${join(tempDir(), "data.db")}` },
];

/** Opens a store that {@link cleanUp} closes if the test did not. */
export async function openStore(url: string, options: DatastoreOptions = {}): Promise<Datastore> {
  const store = await createDatastore(url, options);
  open.add(store);
  return store;
}

/** File descriptors of this process open on files under `dir` (Linux: read from /proc/self/fd). */
export function openFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) found.push(target);
    } catch {
      // the descriptor closed while we looked (readdir's own, for one)
    }
  }
  return found;
}

/**
 * Call in `afterEach`: closes the stores the test left open, then fails if
 * any store was left open or any file under a temporary directory is still
 * open, and removes the directories.
 */
export async function cleanUp(): Promise<void> {
  const leftOpen = [...open].filter((store) => !store.closed);
  open.clear();
  await Promise.all(leftOpen.map((store) => store.close()));
  const leaked = dirs.flatMap((dir) => openFilesUnder(dir));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (leftOpen.length > 0) throw new Error(`the test left ${leftOpen.length} datastore(s) open`);
  if (leaked.length > 0) throw new Error(`files still open after every store closed: ${leaked.join(", ")}`);
}
