// Builds the guest-side Web platform layer (src/platform/guest/*) into
// src/platform/generated/platform.ts: one small loader source and one source
// string per API group, each bundled and minified by esbuild, plus the
// licence notices of the npm packages bundled into them.
//
// Usage: node scripts/build-platform.mjs          (writes the generated files)
//        node scripts/build-platform.mjs --check  (exits 1 if they are stale)
// test/platform/freshness.test.ts calls buildPlatform() and compares.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import * as prettier from "prettier";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const guest = join(root, "src/platform/guest");
const generatedDir = join(root, "src/platform/generated");

/**
 * The groups: entry file, and the globals it defines (each must be one of the
 * entry's exports). A group without globals is only reachable through another
 * group's `require`.
 */
export const GROUPS = {
  domexception: { entry: "dom-exception.ts", globals: ["DOMException"] },
  encoding: { entry: "encoding.ts", globals: ["TextEncoder", "TextDecoder", "atob", "btoa"] },
  url: { entry: "url.ts", globals: ["URL", "URLSearchParams"] },
  idna: { entry: "idna.ts", globals: [] },
  events: { entry: "events.ts", globals: ["Event", "EventTarget", "CustomEvent", "AbortController", "AbortSignal"] },
  streams: {
    entry: "streams.ts",
    globals: [
      "ReadableStream",
      "ReadableStreamDefaultReader",
      "ReadableStreamBYOBReader",
      "ReadableStreamBYOBRequest",
      "ReadableByteStreamController",
      "ReadableStreamDefaultController",
      "WritableStream",
      "WritableStreamDefaultWriter",
      "WritableStreamDefaultController",
      "TransformStream",
      "TransformStreamDefaultController",
      "ByteLengthQueuingStrategy",
      "CountQueuingStrategy",
      "TextEncoderStream",
      "TextDecoderStream",
    ],
  },
  blob: { entry: "blob.ts", globals: ["Blob", "File", "FormData"] },
  fetch: { entry: "fetch.ts", globals: ["Headers", "Request", "Response"] },
  clone: { entry: "clone.ts", globals: ["structuredClone"] },
  crypto: { entry: "crypto.ts", globals: ["crypto", "Crypto", "SubtleCrypto"] },
  misc: { entry: "misc.ts", globals: ["queueMicrotask", "performance", "Performance"] },
};

/**
 * esbuild options every bundle shares. Identifiers are minified and esbuild's
 * keepNames is off: its __name() calls made QuickJS compile the streams group
 * 50% slower (measured 13.3 vs 8.8 ms). The group wrapper names the exported
 * globals instead (`URL.name === "URL"`).
 */
const COMMON = {
  bundle: true,
  write: false,
  format: "iife",
  platform: "neutral",
  mainFields: ["module", "main"],
  conditions: ["import", "default"],
  target: "es2022",
  minify: true,
  legalComments: "none",
  charset: "ascii",
  metafile: true,
  logLevel: "silent",
};

/** Redirects the parts of the npm packages that would reach for guest globals to this layer's groups. */
const shims = {
  name: "platform-shims",
  setup(build) {
    const inWhatwgUrl = (importer) => importer.includes(`${sep}whatwg-url${sep}`);
    build.onResolve({ filter: /^\.\/encoding$/ }, (args) =>
      inWhatwgUrl(args.importer) ? { path: join(guest, "shims/url-encoding.ts") } : undefined,
    );
    // tr46's table as JSON.parse of a string: QuickJS parses JSON text faster than it compiles the
    // equivalent array literal.
    build.onLoad({ filter: /tr46[\\/]lib[\\/]mappingTable\.json$/ }, (args) => ({
      contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(readFileSync(args.path, "utf8"))))});`,
      loader: "js",
    }));
    // URL-impl.js makes its query object through the generated URLSearchParams wrapper; the layer's own
    // Web IDL layer (shims/url-idl.ts) stands in for the generated wrappers.
    build.onResolve({ filter: /^\.\/URLSearchParams$/ }, (args) =>
      inWhatwgUrl(args.importer) ? { path: join(guest, "shims/url-idl.ts") } : undefined,
    );
    build.onResolve({ filter: /^tr46$/ }, (args) =>
      inWhatwgUrl(args.importer) ? { path: join(guest, "shims/tr46.ts") } : undefined,
    );
    // event-target-shim looks up window/self/global/globalThis once and reads Event and DOMException
    // from it: in a guest that would be this layer's own lazy accessors (Event: the group being loaded).
    build.onLoad({ filter: /event-target-shim[\\/]index\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const start = text.indexOf("const Global = typeof window");
      const end = text.indexOf(": undefined;", start);
      if (start < 0 || end < 0) throw new Error("event-target-shim changed: its Global look-up was not found");
      const replacement =
        'const Global = { get DOMException() { return __platform.require("domexception").DOMException; } };';
      return { contents: text.slice(0, start) + replacement + text.slice(end + ": undefined;".length), loader: "js" };
    });
    // web-streams-polyfill reads the global DOMException once at load (and fails if a guest set it to null).
    build.onLoad({ filter: /web-streams-polyfill[\\/]dist[\\/]ponyfill\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const lookup =
        'const dr="undefined"!=typeof globalThis?globalThis:"undefined"!=typeof self?self:"undefined"!=typeof global?global:void 0;';
      if (!text.includes(lookup)) throw new Error("web-streams-polyfill changed: its global look-up was not found");
      const replacement = 'const dr={get DOMException(){return __platform.require("domexception").DOMException}};';
      return { contents: text.replace(lookup, replacement), loader: "js" };
    });
  },
};

async function bundle(entry, options = {}) {
  const result = await esbuild.build({
    ...COMMON,
    entryPoints: [join(guest, entry)],
    globalName: "__exports",
    plugins: [shims],
    ...options,
  });
  const code = result.outputFiles[0].text.trim();
  return { code, inputs: Object.keys(result.metafile.inputs) };
}

/** The npm packages (name, version, licence, licence text) whose files went into the bundles. */
function packagesOf(inputs) {
  const found = new Map();
  for (const input of inputs) {
    const parts = input.split("/");
    const at = parts.lastIndexOf("node_modules");
    if (at < 0) continue;
    const name = parts[at + 1].startsWith("@") ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
    if (found.has(name)) continue;
    const dir = join(root, ...parts.slice(0, at + 1 + name.split("/").length));
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const licenceFile = ["LICENSE", "LICENSE.md", "LICENSE.txt", "LICENSE-MIT.txt", "license"].find((file) =>
      existsSync(join(dir, file)),
    );
    found.set(name, {
      name,
      version: pkg.version,
      license: pkg.license,
      text: licenceFile ? readFileSync(join(dir, licenceFile), "utf8").trim() : "",
    });
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Builds everything in memory: the generated TypeScript module's text and the notices file's text. */
export async function buildPlatform() {
  const globals = {};
  for (const [group, { globals: names }] of Object.entries(GROUPS)) for (const name of names) globals[name] = group;

  // The loader is one self-contained function: built as ESM (no module wrapper) and wrapped by hand.
  const spec = Object.entries(GROUPS)
    .filter(([, { globals: names }]) => names.length > 0)
    .map(([group, { globals: names }]) => `${group}:${names.join(",")}`)
    .join(";");
  const loader = await esbuild.build({
    ...COMMON,
    format: "esm",
    entryPoints: [join(guest, "loader.ts")],
    define: { __PLATFORM_GLOBALS__: JSON.stringify(spec) },
  });
  const loaderCode = loader.outputFiles[0].text.trim();
  const exported = /export\s*\{\s*([\w$]+)\s+as\s+install\s*\};?$/.exec(loaderCode);
  if (!exported) throw new Error("loader.ts must export install and nothing else");
  // An expression evaluating to install(global, host, evaluate, source).
  const loaderSource = `(function(){"use strict";${loaderCode.slice(0, exported.index)}return ${exported[1]}})()`;

  const groups = {};
  const inputs = new Set();
  for (const [group, { entry, globals: names }] of Object.entries(GROUPS)) {
    const { code, inputs: used } = await bundle(entry);
    for (const input of used) inputs.add(input);
    // An expression evaluating to the group function; `__platform` is the loader's view (guest/runtime.ts).
    // Minified class and function names are put right for the globals.
    const naming = names.length
      ? `for(const n of ${JSON.stringify(names)}){const v=__exports[n];if(typeof v=="function"&&v.name!==n)Object.defineProperty(v,"name",{value:n,configurable:true})}`
      : "";
    groups[group] = `(function(__platform){"use strict";${code}${naming}return __exports})`;
  }

  const packages = packagesOf(inputs);
  const header = [
    "// Generated by scripts/build-platform.mjs from src/platform/guest/: do not edit, run `npm run build:platform`.",
    `// Bundled npm packages: ${packages.map((p) => `${p.name}@${p.version} (${p.license})`).join(", ")}.`,
    "// Their licence texts are in THIRD_PARTY_NOTICES.md next to this file.",
    "",
  ].join("\n");
  const module = `${header}
/** An expression that evaluates to \`function install(global, host, evaluate, source)\` (see src/platform/index.ts). */
export const PLATFORM_LOADER_SOURCE: string = ${JSON.stringify(loaderSource)};

/** Each group's source: an expression that evaluates to the group's function. */
export const PLATFORM_GROUPS: Readonly<Record<string, string>> = ${JSON.stringify(groups)};

/** Which group defines each platform global. */
export const PLATFORM_GLOBALS: Readonly<Record<string, string>> = ${JSON.stringify(globals)};
`;
  const config = (await prettier.resolveConfig(join(generatedDir, "platform.ts"))) ?? {};
  const formatted = await prettier.format(module, { ...config, filepath: join(generatedDir, "platform.ts") });

  const notices = [
    "# Third-party notices",
    "",
    "The platform groups in `platform.ts` bundle these npm packages (generated by scripts/build-platform.mjs).",
    "",
    ...packages.flatMap((p) => [`## ${p.name}@${p.version} (${p.license})`, "", "```", p.text, "```", ""]),
  ].join("\n");
  const formattedNotices = await prettier.format(notices, { ...config, parser: "markdown" });
  return {
    files: {
      [join(generatedDir, "platform.ts")]: formatted,
      [join(generatedDir, "THIRD_PARTY_NOTICES.md")]: formattedNotices,
    },
    packages,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  const { files } = await buildPlatform();
  let stale = false;
  for (const [path, text] of Object.entries(files)) {
    const current = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (current === text) continue;
    stale = true;
    if (check) console.error(`${relative(root, path)} is out of date: run npm run build:platform`);
    else writeFileSync(path, text);
  }
  if (check && stale) process.exit(1);
}
