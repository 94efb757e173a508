/**
 * `warden serve --watch`: `fs.watch` on the apps' directory and folders, debounced per app name.
 * Top-level file apps (or the single app file) are watched through their directory, not the files
 * themselves, so that editors that save by writing a new file and renaming it over the old one are
 * seen too, and so are apps added and removed; a folder app is watched recursively (any file in it
 * counts), and through its parent for the folder itself being replaced or removed; any other folder
 * is watched (not recursively) for an `index.*` file appearing in it, which makes it an app.
 */
import { lstatSync, readdirSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import { indexOf, namesOfEntry } from "./apps.js";

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
 * Watches the apps of `root` (the resolved `warden serve <path>`: a directory of apps, or one app
 * file, named `""`): `onChange(name)` once per burst of events that may concern the app `name`
 * (after {@link WATCH_DEBOUNCE_MS} of quiet): an app edited, added or removed, or a name no app has
 * (the caller compares the disk with the apps it serves). `onError(dir, error)` when a watcher fails
 * (it is then closed; the apps keep serving their last versions). Folders are watched as they come
 * and go.
 */
export function watchApps(
  root: string,
  onChange: (name: string) => void,
  onError: (dir: string, error: Error) => void,
  debounceMs = WATCH_DEBOUNCE_MS,
): AppWatcher {
  const timers = new Map<string, NodeJS.Timeout>();
  const watchers = new Set<FSWatcher>();
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
  const open = (dir: string, recursive: boolean, listener: (filename: string | null) => void): FSWatcher => {
    const watcher = watch(dir, { recursive, persistent: true }, (_event, filename) =>
      listener(filename === null ? null : String(filename)),
    );
    watcher.on("error", (error: Error) => {
      watcher.close();
      watchers.delete(watcher);
      // A folder removed under its watcher: the directory's watcher reports the removal.
      if (dir !== root && dirname(dir) === root && lstatSync(dir, { throwIfNoEntry: false }) === undefined) return;
      onError(dir, error);
    });
    watchers.add(watcher);
    return watcher;
  };
  const stop = (watcher: FSWatcher): void => {
    watcher.close();
    watchers.delete(watcher);
  };
  try {
    if (lstatSync(root).isFile()) {
      const file = basename(root);
      open(dirname(root), false, (filename) => {
        if (filename === null || filename === file) changed("");
      });
    } else {
      /** Names of root's entries reported or found, for an event that names no file. */
      const seen = new Set<string>();
      const report = (entry: string): void => {
        for (const name of namesOfEntry(entry)) {
          seen.add(name);
          changed(name);
        }
      };
      /** Watchers of root's folders, by entry name: recursive for a folder app. */
      const folders = new Map<string, { watcher: FSWatcher; ino: number; recursive: boolean }>();
      /** Opens, replaces or closes the watcher of root's entry `entry` for what it is now. */
      const follow = (entry: string, starting = false): void => {
        if (closed || ignored(entry)) return;
        const dir = join(root, entry);
        const stats = lstatSync(dir, { throwIfNoEntry: false });
        const current = folders.get(entry);
        const app = stats?.isDirectory() === true && indexOf(dir) !== undefined;
        if (current && stats?.isDirectory() && current.ino === stats.ino && (current.recursive || !app)) return;
        if (current) {
          stop(current.watcher);
          folders.delete(entry);
        }
        if (!stats?.isDirectory()) return;
        let watcher: FSWatcher;
        try {
          watcher = app
            ? open(dir, true, (filename) => {
                if (filename === null || !ignored(filename)) report(entry);
              })
            : // Not an app (yet): an index.* file appearing in it makes it one.
              open(dir, false, (filename) => {
                if (filename === null || basename(filename).startsWith("index.")) {
                  follow(entry);
                  report(entry);
                }
              });
        } catch (error) {
          if (starting) throw error;
          // Gone again already: the directory's watcher reports that.
          if (lstatSync(dir, { throwIfNoEntry: false }) !== undefined) onError(dir, error as Error);
          return;
        }
        folders.set(entry, { watcher, ino: stats.ino, recursive: app });
        // An index.* file that appeared before the watcher opened.
        if (!app && indexOf(dir) !== undefined) {
          follow(entry);
          report(entry);
        }
      };
      open(root, false, (filename) => {
        if (filename !== null) {
          if (ignored(filename)) return;
          follow(filename);
          report(filename);
          return;
        }
        // No file named: look at every entry, as at start.
        let entries: string[] = [];
        try {
          entries = readdirSync(root);
        } catch {
          // the directory's watcher reports its own failure
        }
        for (const entry of new Set([...entries, ...folders.keys()])) {
          follow(entry);
          report(entry);
        }
        for (const name of seen) changed(name);
      });
      for (const entry of readdirSync(root)) {
        follow(entry, true);
        for (const name of namesOfEntry(entry)) seen.add(name);
      }
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
      watchers.clear();
    },
  };
}
