/**
 * `warden serve --watch`: `fs.watch` on the apps' files and folders, debounced per app. A
 * top-level file app (or the single app file) is watched through its directory, not the file
 * itself, so that editors that save by writing a new file and renaming it over the old one are
 * seen too; a folder app is watched recursively (any file in it counts), and through its parent
 * for the folder itself being replaced.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { AppSource } from "./apps.js";

/** Quiet time after a file event before the app is reloaded: a save is often several events. */
export const WATCH_DEBOUNCE_MS = 100;

/** Open watchers; `close()` stops them and every pending debounce timer. */
export interface AppWatcher {
  close(): void;
}

/** Editor droppings in a folder app (swap, backup and lock files) that never reload it. */
function ignored(name: string): boolean {
  const last = basename(name);
  return last.startsWith(".") || last.endsWith("~") || last.endsWith(".swp") || last.endsWith(".swx");
}

/**
 * Watches the apps found by `discoverApps`: `onChange(name)` once per burst of events on an app
 * (after {@link WATCH_DEBOUNCE_MS} of quiet), `onError(dir, error)` when a watcher fails (it is
 * then closed; the app keeps serving its last version).
 */
export function watchApps(
  apps: readonly AppSource[],
  root: string,
  onChange: (name: string) => void,
  onError: (dir: string, error: Error) => void,
  debounceMs = WATCH_DEBOUNCE_MS,
): AppWatcher {
  const timers = new Map<string, NodeJS.Timeout>();
  const watchers: FSWatcher[] = [];
  let closed = false;
  const changed = (name: string): void => {
    if (closed) return;
    clearTimeout(timers.get(name));
    timers.set(
      name,
      setTimeout(() => {
        timers.delete(name);
        if (!closed) onChange(name);
      }, debounceMs),
    );
  };
  const open = (dir: string, recursive: boolean, listener: (filename: string | null) => void): void => {
    const watcher = watch(dir, { recursive, persistent: true }, (_event, filename) =>
      listener(filename === null ? null : String(filename)),
    );
    watcher.on("error", (error: Error) => {
      watcher.close();
      onError(dir, error);
    });
    watchers.push(watcher);
  };
  try {
    // Entries directly in a watched directory: file name -> app name.
    const byEntry = new Map<string, Map<string, string>>();
    const entry = (dir: string, name: string, app: string): void => {
      let entries = byEntry.get(dir);
      if (!entries) byEntry.set(dir, (entries = new Map()));
      entries.set(name, app);
    };
    for (const app of apps) {
      const dir = dirname(app.file);
      if (app.name === "" || dir === root) entry(dir, basename(app.file), app.name);
      else {
        // A folder app: any file in it, and the folder itself in its parent.
        entry(dirname(dir), basename(dir), app.name);
        open(dir, true, (filename) => {
          if (filename === null || !ignored(filename)) changed(app.name);
        });
      }
    }
    for (const [dir, entries] of byEntry) {
      open(dir, false, (filename) => {
        if (filename === null) for (const app of new Set(entries.values())) changed(app);
        else {
          const app = entries.get(filename);
          if (app !== undefined) changed(app);
        }
      });
    }
  } catch (error) {
    for (const watcher of watchers) watcher.close();
    throw error;
  }
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      for (const watcher of watchers) watcher.close();
    },
  };
}
