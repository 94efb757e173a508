/**
 * The host side of code generation from strings inside a sandbox: `eval`,
 * `new Function` and the other function constructors hand their text to the
 * host, which instruments it like any guest source; and
 * `Function.prototype.toString` asks the host for a function's original text,
 * so the guest never sees the instrumentation. Engine-independent: each
 * engine exposes {@link GuestCode.compile} and {@link GuestCode.original} to
 * the prelude as synchronous host functions (`__wardenCompile`,
 * `__wardenOriginal`).
 */
import {
  GuestSyntaxError,
  instrumentEval,
  instrumentFunction,
  type DynamicFunctionKind,
  type InstrumentedEval,
  type PreparedSource,
} from "../transform/index.js";

/** The prefix of a compile mode whose texts cross as JSON (see {@link GuestCode.compile}). */
const JSON_MODE = "json:";
const KINDS = new Set<string>(["normal", "generator", "async", "asyncGenerator"]);

/** Instrumented code made from small strings, most recently used last; shared by all runs of this process. */
const made = new Map<string, InstrumentedEval>();
/** How many instrumented strings the shared cache keeps. */
const MADE_CACHE_SIZE = 256;
/** Strings longer than this are instrumented for their run only: a guest must not fill the host's memory. */
const MADE_CACHE_MAX_CHARS = 64 * 1024;

/** Characters of code made from strings one run keeps for `toString` lookups. */
const OWN_MAX_CHARS = 16 * 1024 * 1024;

function remember(key: string, value: InstrumentedEval): void {
  if (key.length > MADE_CACHE_MAX_CHARS) return;
  made.delete(key);
  made.set(key, value);
  if (made.size > MADE_CACHE_SIZE) made.delete(made.keys().next().value as string);
}

/** Code generation and source lookups for one run. */
export class GuestCode {
  /** Code this run made from strings, newest last (for `toString` of the functions it made). */
  private readonly own = new Set<InstrumentedEval>();
  private ownChars = 0;

  /** @param program the run's own prepared source (or a way to get it when first needed) */
  constructor(private readonly program: () => PreparedSource | undefined) {}

  /**
   * Instruments code for the sandbox. `mode` is `"eval"` (a direct eval: `a` is the code),
   * `"globalEval"` (an indirect eval, whose code runs in the global scope) or a
   * {@link DynamicFunctionKind} (`a` the parameter list, `b` the body).
   * Returns `"1" + code`, or `"0" + message` for a syntax error, which the
   * prelude throws as the guest realm's own `SyntaxError`. A mode prefixed with
   * `"json:"` takes and gives its texts as JSON (code with a lone surrogate or a NUL).
   */
  compile(mode: string, a: string, b: string): string {
    // "json:" + mode: code with a lone surrogate or a NUL, which crossed as JSON text and goes back
    // as such (QuickJS hands strings over as NUL-terminated UTF-8; see the prelude's compile).
    if (mode.startsWith(JSON_MODE)) {
      const answer = this.compile(mode.slice(JSON_MODE.length), JSON.parse(a) as string, JSON.parse(b) as string);
      return answer[0]! + JSON.stringify(answer.slice(1));
    }
    // Generated code is counted as the run's own program is (uncounted only when neither the
    // instruction budget nor the depth limit is on).
    const counted = this.program()?.counted ?? true;
    const key = `${counted ? 1 : 0}${mode}\0${a}\0${b}`;
    try {
      let output = made.get(key);
      if (!output) {
        if (mode === "eval" || mode === "globalEval")
          output = instrumentEval(a, undefined, counted, mode === "globalEval");
        else if (KINDS.has(mode)) output = instrumentFunction(mode as DynamicFunctionKind, a, b, counted);
        else return `0unknown code generation mode ${mode}`;
      }
      remember(key, output);
      this.keep(output);
      return `1${output.code}`;
    } catch (error) {
      if (error instanceof GuestSyntaxError) return `0${error.message}`;
      // The parser and walkers recurse on nesting: a hostile string can be nested deeper than the host's stack.
      if (error instanceof RangeError) return "0the source is nested too deeply to compile";
      throw error;
    }
  }

  /** The guest's original text of a function whose engine source is `text`; `""` when unknown. */
  original(text: string): string {
    let fromProgram: string | undefined;
    try {
      fromProgram = this.program()?.originalText(text);
    } catch {
      // Preparing the program again failed (it ran, so it prepared once): show the engine's text.
    }
    if (fromProgram !== undefined) return fromProgram;
    for (const output of [...this.own].reverse()) {
      const found = output.reverse.original(text);
      if (found !== undefined) return found;
    }
    return "";
  }

  /** Keeps a run's code for `original`, oldest dropped past {@link OWN_MAX_CHARS} (its functions then show as compiled). */
  private keep(output: InstrumentedEval): void {
    if (this.own.has(output)) {
      this.own.delete(output); // newest last
    } else {
      this.ownChars += output.code.length;
    }
    this.own.add(output);
    for (const oldest of this.own) {
      if (this.ownChars <= OWN_MAX_CHARS || this.own.size === 1) break;
      this.own.delete(oldest);
      this.ownChars -= oldest.code.length;
    }
  }
}
