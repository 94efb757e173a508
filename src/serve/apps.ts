/**
 * Finds the apps under `warden serve <path>`: a file is one app at `/`; a directory
 * serves each `*.js`, `*.mjs`, `*.ts` file, and each folder with an `index.*` file,
 * as an app named after it at `/<name>/`. A request is routed by a lookup in the table of
 * apps loaded (found at start, and under `--watch` as they come and go), never by a
 * file-system path built from the URL.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { ConfigError } from "../errors/index.js";

/** An app found on disk. */
export interface AppSource {
  /** Its name: the file name without its extension, or the folder name; `""` for a single-file app. */
  readonly name: string;
  /** Absolute path of the module. */
  readonly file: string;
  /** The module's text. */
  readonly source: string;
}

const EXTENSIONS = [".js", ".mjs", ".ts"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The `index.js`, `index.mjs` or `index.ts` file of a folder app, when there is one. */
export function indexOf(dir: string): string | undefined {
  for (const ext of EXTENSIONS) {
    const candidate = join(dir, `index${ext}`);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Reads the apps of `path` (resolved against `cwd`); a missing path or one with no apps is a `ConfigError`. */
export function discoverApps(path: string, cwd: string, source = "the argument <path>"): AppSource[] {
  const root = resolve(cwd, path);
  let stats;
  try {
    stats = statSync(root);
  } catch (error) {
    throw new ConfigError({
      source,
      value: path,
      expected: "a directory of apps (*.js, *.mjs, *.ts, folders with index.*) or one app file",
      reason: (error as Error).message,
    });
  }
  if (stats.isFile()) return [{ name: "", file: root, source: readFileSync(root, "utf8") }];
  const apps: AppSource[] = [];
  for (const [name, files] of listApps(root)) {
    if (files.length > 1) {
      throw new ConfigError({
        source,
        value: path,
        reason: `two apps are named ${JSON.stringify(name)}`,
        expected: "one file or folder per app name",
      });
    }
    apps.push({ name, file: files[0]!, source: readFileSync(files[0]!, "utf8") });
  }
  if (apps.length === 0) {
    throw new ConfigError({
      source,
      value: path,
      reason: "it holds no apps",
      expected: "a directory with *.js, *.mjs or *.ts files, or folders with an index.* file",
    });
  }
  return apps;
}

/**
 * The apps of the directory `root` as it is now, by name, in name order: each name's module
 * files (more than one when two entries claim the name, such as `a.js` and `a/`). Reads no module.
 */
export function listApps(root: string): Map<string, string[]> {
  const apps = new Map<string, string[]>();
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(root, entry.name);
    let file: string | undefined;
    let name: string;
    if (entry.isFile() && EXTENSIONS.includes(extname(entry.name)) && !entry.name.endsWith(".d.ts")) {
      file = full;
      name = basename(entry.name, extname(entry.name));
    } else if (entry.isDirectory()) {
      file = indexOf(full);
      name = entry.name;
    } else continue;
    if (!file || !NAME.test(name)) continue;
    apps.set(name, [...(apps.get(name) ?? []), file]);
  }
  return apps;
}

/**
 * The app names an entry of the apps' directory may stand for (it may be gone already): the
 * entry's name (a folder app), and without its extension when it has an app's (a file app).
 */
export function namesOfEntry(entry: string): string[] {
  const names = [entry];
  const ext = extname(entry);
  if (EXTENSIONS.includes(ext) && !entry.endsWith(".d.ts")) names.push(basename(entry, ext));
  return names.filter((name) => NAME.test(name));
}
