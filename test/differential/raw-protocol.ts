/**
 * What the raw runners (plain isolated-vm in a child process, plain QuickJS in
 * a worker thread, neither with any of Warden's code) are asked and answer,
 * and the two small pieces of guest-side JavaScript they share: the globals a
 * Warden run also has (`input`, a `console` whose lines go nowhere), and the
 * JSON serialisation of a result, done inside the sandbox as Warden does it.
 */
import { PLATFORM_LOADER_SOURCE } from "../../src/platform/index.js";
import type { SourceKind } from "./corpus.js";

export interface RawJob {
  readonly id: number;
  readonly kind: SourceKind;
  readonly filename: string;
  readonly source: string;
  readonly inputJson: string;
}

/** JSON text of the result (`""` for `undefined`), or the error the program ended with. */
export type RawOutcome = { ok: true; json: string } | { ok: false; name: string; message: string };

export interface RawAnswer {
  readonly id: number;
  readonly outcome: RawOutcome;
}

/**
 * Installs `input` (parsed from the global `corpusInputJson`), a silent `console`, and the Web
 * platform layer every Warden sandbox has (src/platform: URL, TextEncoder, atob...), on the
 * host function `corpusPlatform` (engine/platform-host.ts), as Warden installs it: the reference
 * is the raw engine with the same globals.
 */
export const SETUP_SOURCE = `(() => {
  const platform = globalThis.corpusPlatform;
  delete globalThis.corpusPlatform;
  (${PLATFORM_LOADER_SOURCE})(
    globalThis,
    Object.freeze({
      randomBytes: (n) => platform("random", n, 0),
      digest: (algorithm, data) => platform("digest", algorithm, data),
      now: () => +platform("now", 0, 0),
    }),
    (code) => (0, eval)(code),
    (group) => platform("source", group, 0),
  );
  const input = JSON.parse(globalThis.corpusInputJson);
  delete globalThis.corpusInputJson;
  Object.defineProperty(globalThis, "input", { value: input, writable: true, enumerable: false, configurable: true });
  const silent = () => {};
  const console = Object.freeze({ log: silent, info: silent, debug: silent, warn: silent, error: silent, trace: silent });
  Object.defineProperty(globalThis, "console", { value: console, writable: true, enumerable: false, configurable: true });
})();`;

/**
 * `(value, isModule) => Promise<string>`: a script's completion value, or a
 * module namespace whose default export is called with the input, awaited and
 * serialised to JSON (`""` for `undefined`).
 */
export const FINISH_SOURCE = `(value, isModule) => {
  const settle = isModule
    ? Promise.resolve(value).then((namespace) => {
        const main = namespace.default;
        return typeof main === "function" ? Promise.resolve().then(() => main(globalThis.input)) : main;
      })
    : Promise.resolve(value);
  return settle.then((result) => {
    const json = JSON.stringify(result);
    return json === undefined ? "" : json;
  });
}`;
