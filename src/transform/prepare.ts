import { createHash } from "node:crypto";
import remapping from "@jridgewell/remapping";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import { ScriptError, type SourcePosition } from "../errors/index.js";
import { GuestSyntaxError, instrument, type SourceKind } from "./instrument.js";
import type { ReverseMap } from "./reverse.js";
import { isTypeScript, stripTypes } from "./strip-types.js";

/** A guest source ready to compile on any engine. */
export interface PreparedSource {
  /** The user's file name, as shown in stack traces. */
  readonly filename: string;
  /** Script or ES module. */
  readonly kind: SourceKind;
  /** Instrumented JavaScript to compile. */
  readonly code: string;
  /** True when the script's completion value is already the prelude's finish promise (see `instrument`). */
  readonly finishesItself: boolean;
  /** Stable key of (filename, source, counted), for compile caches. */
  readonly key: string;
  /**
   * False when prepared for a run with neither the instruction budget nor the
   * depth limit: calls and loops are not counted (code the guest generates
   * from strings is prepared the same way).
   */
  readonly counted: boolean;
  /** Maps a 1-based line and column of `code` to the user's original file. */
  originalPosition(line: number, column: number): { line: number; column: number } | undefined;
  /** Rewrites `filename:line:column` positions in a guest stack to the user's original file. */
  remapStack(stack: string): string;
  /** The first `filename:line:column` position in a (remapped) stack, if any. */
  firstPosition(stack: string): SourcePosition | undefined;
  /**
   * The guest's own text for a piece of `code` (a function's source as the
   * engine reports it), without the instrumentation; for TypeScript, the
   * JavaScript left after stripping types. `undefined` if not from this code.
   */
  originalText(text: string): string | undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class Prepared implements PreparedSource {
  private trace: TraceMap | undefined;
  constructor(
    readonly filename: string,
    readonly kind: SourceKind,
    readonly code: string,
    readonly finishesItself: boolean,
    readonly key: string,
    readonly counted: boolean,
    private readonly maps: () => TraceMap,
    private readonly reverse: ReverseMap,
  ) {}

  originalText(text: string): string | undefined {
    return this.reverse.original(text);
  }

  originalPosition(line: number, column: number): { line: number; column: number } | undefined {
    this.trace ??= this.maps();
    const found = originalPositionFor(this.trace, { line, column: Math.max(0, column - 1) });
    return found.line === null ? undefined : { line: found.line, column: found.column + 1 };
  }

  private positions(flags = ""): RegExp {
    return new RegExp(`${escapeRegExp(this.filename)}:(\\d+):(\\d+)`, flags);
  }

  remapStack(stack: string): string {
    return stack.replace(this.positions("g"), (whole, line: string, column: string) => {
      const original = this.originalPosition(Number(line), Number(column));
      return original ? `${this.filename}:${original.line}:${original.column}` : whole;
    });
  }

  firstPosition(stack: string): SourcePosition | undefined {
    const match = this.positions().exec(stack);
    return match ? { file: this.filename, line: Number(match[1]), column: Number(match[2]) } : undefined;
  }
}

const CACHE_SIZE = 256;
const cache = new Map<string, PreparedSource>();

/**
 * Sources up to this length are their own cache key: a Map hashes a short string faster than
 * SHA-256 can be set up (a fresh QuickJS run of `1+1` spent ~2.5 % of its worker's time hashing).
 * Longer ones (bundles of megabytes) are keyed by their digest, so the cache never holds a
 * second copy of them.
 */
const DIRECT_KEY_CHARS = 4096;

/** The cache key of (source, filename, counted); a digest never contains ":", so the two kinds never meet. */
function cacheKey(source: string, filename: string, counted: boolean): string {
  if (source.length + filename.length <= DIRECT_KEY_CHARS) {
    return `${counted ? "c" : "u"}:${filename.length}:${filename}${source}`;
  }
  return createHash("sha256")
    .update(counted ? "counted" : "uncounted")
    .update("\0")
    .update(filename)
    .update("\0")
    .update(source)
    .digest("base64url");
}

/**
 * Prepares guest source: strips TypeScript types (for `.ts` files), parses,
 * and instruments it, with a composed source map back to the user's file.
 * Results are cached by file name, content and `counted`. A source that does
 * not parse throws a {@link ScriptError} with the position in the user's file.
 * `counted` false leaves out the counting of calls and loops, for a run with
 * neither the instruction budget nor the depth limit (see `countsCalls`).
 */
export function prepareSource(source: string, filename: string, counted = true): PreparedSource {
  const key = cacheKey(source, filename, counted);
  const hit = cache.get(key);
  if (hit) {
    // Refresh recency: a Map iterates in insertion order, so re-insert.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const stripped = isTypeScript(filename) ? guard(filename, () => stripTypes(source, filename)) : undefined;
  const output = guard(filename, () => instrument(stripped?.code ?? source, filename, counted), stripped?.map);
  const maps = () =>
    new TraceMap(
      (stripped ? remapping([output.map.toString(), stripped.map], () => null) : output.map.toString()) as never,
    );
  const prepared = new Prepared(
    filename,
    output.kind,
    output.code,
    output.finishesItself,
    key,
    counted,
    maps,
    output.reverse,
  );
  cache.set(key, prepared);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return prepared;
}

/**
 * Runs one preparation step, turning a {@link GuestSyntaxError} into a
 * {@link ScriptError}; `inputMap` maps the step's input back to the user's file.
 */
function guard<T>(filename: string, step: () => T, inputMap?: string): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      // The parser and the walkers recurse on nesting; a hostile source can be nested
      // deeper than the host's stack. That is the guest's problem, not the host's.
      const message = "the source is nested too deeply to compile";
      throw new ScriptError({
        guestName: "SyntaxError",
        guestMessage: message,
        guestStack: `SyntaxError: ${message}\n    at ${filename}`,
      });
    }
    if (!(error instanceof GuestSyntaxError)) throw error;
    let line = error.line;
    let column = error.column + 1;
    if (inputMap) {
      const found = originalPositionFor(new TraceMap(inputMap as never), { line, column: error.column });
      if (found.line !== null) {
        line = found.line;
        column = found.column + 1;
      }
    }
    throw new ScriptError({
      guestName: "SyntaxError",
      guestMessage: error.message,
      guestStack: `SyntaxError: ${error.message}\n    at ${filename}:${line}:${column}`,
      position: { file: filename, line, column },
    });
  }
}
