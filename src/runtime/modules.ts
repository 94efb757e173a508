import { readFile, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

/** A module a guest can spawn: its source and the file name it runs under. */
export interface SpawnableModule {
  source: string;
  filename: string;
}

/**
 * Finds the module a guest's `spawn(specifier)` names: a map of names to
 * sources, or a function (return undefined for "no such module").
 */
export type ModuleResolver = (specifier: string) => Promise<SpawnableModule | undefined>;

/** The modules of `createRuntime({ modules })`: by name, from a map of names to sources. */
export function mapModules(modules: Readonly<Record<string, string>>): ModuleResolver {
  const names = Object.keys(modules);
  return async (specifier) => {
    if (!Object.hasOwn(modules, specifier)) {
      throw new Error(
        `spawn: no module named ${JSON.stringify(specifier)} is registered` +
          (names.length > 0 ? ` (registered: ${names.map((n) => JSON.stringify(n)).join(", ")})` : ""),
      );
    }
    return { source: modules[specifier]!, filename: specifier };
  };
}

/**
 * The modules `warden run` lets a script spawn: files by relative path inside
 * the script's own directory, never outside it (no `..`, no absolute paths,
 * no symbolic links that lead out). Each refusal names the specifier and why.
 */
export function directoryModules(directory: string): ModuleResolver {
  return async (specifier) => {
    const refuse = (why: string): never => {
      throw new Error(`spawn: ${JSON.stringify(specifier)} ${why}`);
    };
    if (specifier === "" || isAbsolute(specifier) || /^[a-zA-Z]:|^\\/.test(specifier)) {
      refuse("must be a relative path inside the script's directory, such as ./task.js");
    }
    if (specifier.split(/[\\/]/).includes("..")) refuse("may not go up a directory (..)");
    const root = await realpath(directory);
    let file: string;
    try {
      file = await realpath(join(root, specifier));
    } catch {
      return refuse(`does not exist in ${directory}`);
    }
    const inside = relative(root, file);
    if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside)) {
      refuse("leads outside the script's directory");
    }
    return { source: await readFile(file, "utf8"), filename: inside.split(sep).join("/") };
  };
}
