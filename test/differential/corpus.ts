/**
 * The differential corpus: real packages (devDependencies), each exercised by
 * a small driver (`drivers/*.js`) on real inputs, mostly files their npm
 * tarballs ship (READMEs, changelogs, schemas, their own sources), bundled
 * with esbuild into one self-contained script or ES module per driver, and a
 * second copy of every bundle reformatted by Prettier with `semi: false`.
 *
 * A script bundle ends in the expression `corpusDriver.default(input)`, so its
 * completion value is the driver's (promised) result; a module bundle
 * default-exports the driver. Bundles are built on demand; the Prettier copies,
 * which are slow to make, are cached in node_modules/.cache/warden-corpus by a
 * hash of the bundle they come from.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import * as prettier from "prettier";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const nodeModules = join(root, "node_modules");
const cacheDir = join(nodeModules, ".cache", "warden-corpus");

export type SourceKind = "script" | "module";
export type Variant = "original" | "semi-false";

export interface DriverSpec {
  /** Driver file `drivers/<name>.js`. */
  readonly name: string;
  /** The packages under test (their versions key the corpus). */
  readonly packages: readonly string[];
  /** Bundle as a script (completion value) or an ES module (default export). */
  readonly kind: SourceKind;
}

export interface CorpusEntry {
  readonly name: string;
  readonly packages: readonly string[];
  readonly kind: SourceKind;
  readonly variant: Variant;
  /** `<name>.js`, or `<name>.semi-false.js` (`.mjs` for modules). */
  readonly filename: string;
  readonly source: string;
  readonly lines: number;
}

/** The corpus: one driver per package or facet of a package. */
export const DRIVERS: readonly DriverSpec[] = [
  { name: "marked", packages: ["marked"], kind: "module" },
  { name: "js-yaml", packages: ["js-yaml"], kind: "script" },
  { name: "yaml", packages: ["yaml"], kind: "module" },
  { name: "dayjs", packages: ["dayjs"], kind: "script" },
  { name: "date-fns", packages: ["date-fns"], kind: "module" },
  { name: "lodash", packages: ["lodash"], kind: "script" },
  { name: "semver", packages: ["semver"], kind: "script" },
  { name: "ajv", packages: ["ajv"], kind: "script" },
  { name: "qs", packages: ["qs"], kind: "script" },
  { name: "handlebars", packages: ["handlebars"], kind: "script" },
  { name: "handlebars-render", packages: ["handlebars"], kind: "script" },
  { name: "mustache", packages: ["mustache"], kind: "module" },
  { name: "diff", packages: ["diff"], kind: "module" },
  { name: "uuid", packages: ["uuid"], kind: "module" },
  { name: "esprima", packages: ["esprima"], kind: "script" },
  { name: "acorn", packages: ["acorn", "acorn-walk"], kind: "module" },
  { name: "prettier", packages: ["prettier"], kind: "module" },
];

/** The input every corpus run gets (the global `input`, or the default export's argument). */
export const CORPUS_INPUT = { corpus: "warden-differential", seed: 20240229 };

function sha256(...parts: string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}

/** Paths (relative to node_modules) matching a pattern whose segments may contain `*`. */
function expand(pattern: string): string[] {
  let paths = [""];
  for (const segment of pattern.split("/")) {
    const next: string[] = [];
    for (const base of paths) {
      if (!segment.includes("*")) {
        next.push(base ? `${base}/${segment}` : segment);
        continue;
      }
      const dir = join(nodeModules, base);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      const regex = new RegExp(`^${segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
      for (const name of readdirSync(dir).sort()) if (regex.test(name)) next.push(base ? `${base}/${name}` : name);
    }
    paths = next;
  }
  return paths.filter((path) => existsSync(join(nodeModules, path)) && statSync(join(nodeModules, path)).isFile());
}

/**
 * `import files from "corpus-files:a/README.md,b/*.js?max=20000"`: the files'
 * texts as `[{ path, text }]` (each cut to `max` characters if given), read
 * from node_modules when the bundle is built.
 */
const corpusFiles: esbuild.Plugin = {
  name: "corpus-files",
  setup(build) {
    build.onResolve({ filter: /^corpus-files:/ }, (args) => ({ path: args.path, namespace: "corpus-files" }));
    build.onLoad({ filter: /.*/, namespace: "corpus-files" }, (args) => {
      const [list = "", query = ""] = args.path.slice("corpus-files:".length).split("?");
      const max = Number(new URLSearchParams(query).get("max") ?? Infinity);
      const files = list.split(",").flatMap((pattern) => {
        const found = expand(pattern);
        if (found.length === 0) throw new Error(`corpus-files: nothing matches ${pattern}`);
        return found;
      });
      const data = files.map((path) => ({
        path,
        text: readFileSync(join(nodeModules, path), "utf8").replace(/\r\n/g, "\n").slice(0, max),
      }));
      return { contents: `export default ${JSON.stringify(data)};`, loader: "js" };
    });
  },
};

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(nodeModules, name, "package.json"), "utf8")) as { version: string }).version;
}

function countLines(source: string): number {
  let lines = 1;
  for (let i = source.indexOf("\n"); i !== -1; i = source.indexOf("\n", i + 1)) lines++;
  return lines;
}

async function bundle(spec: DriverSpec): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [join(here, "drivers", `${spec.name}.js`)],
    bundle: true,
    write: false,
    // Paths in the bundle's comments are relative to this, whatever the current directory.
    absWorkingDir: root,
    // No Node built-ins in a sandbox: browser builds of packages that have them (uuid's pure-JS hashes).
    platform: "browser",
    format: spec.kind === "module" ? "esm" : "iife",
    ...(spec.kind === "script" ? { globalName: "corpusDriver" } : {}),
    target: "es2022",
    charset: "utf8",
    legalComments: "none",
    logLevel: "silent",
    plugins: [corpusFiles],
  });
  const code = result.outputFiles[0]!.text;
  return spec.kind === "script" ? `${code}corpusDriver.default(input);\n` : code;
}

/** The same program reformatted by Prettier without semicolons (cached: it takes seconds). */
async function semiFalse(code: string): Promise<string> {
  const key = sha256(code, prettier.version, "semi-false");
  const path = join(cacheDir, `${key}.js`);
  if (existsSync(path)) return readFileSync(path, "utf8");
  const formatted = await prettier.format(code, { parser: "babel", semi: false, printWidth: 100 });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(path, formatted);
  return formatted;
}

/** A short description of the corpus's packages and versions. */
export function corpusPackages(drivers: readonly DriverSpec[] = DRIVERS): string[] {
  return [...new Set(drivers.flatMap((spec) => spec.packages))].sort().map((name) => `${name}@${packageVersion(name)}`);
}

/** Builds every driver's bundle and its `semi: false` reformatting. */
export async function buildCorpus(drivers: readonly DriverSpec[] = DRIVERS): Promise<CorpusEntry[]> {
  const entries: CorpusEntry[] = [];
  const bundles = await Promise.all(drivers.map(async (spec) => ({ spec, code: await bundle(spec) })));
  for (const { spec, code } of bundles) {
    const extension = spec.kind === "module" ? "mjs" : "js";
    const reformatted = await semiFalse(code);
    for (const [variant, source] of [
      ["original", code],
      ["semi-false", reformatted],
    ] as const) {
      entries.push({
        name: spec.name,
        packages: spec.packages,
        kind: spec.kind,
        variant,
        filename: variant === "original" ? `${spec.name}.${extension}` : `${spec.name}.semi-false.${extension}`,
        source,
        lines: countLines(source),
      });
    }
  }
  return entries;
}
