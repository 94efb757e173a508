import type { LimitValues } from "../limits/index.js";
import { MEMORY_PRELUDE, RESIZABLE_PRELUDE } from "./prelude-memory.js";
import { WARM_PRELUDE } from "./prelude-warm.js";
import { HOST_CALL_PRELUDE } from "./prelude-host.js";
import { PLATFORM_LOADER_SOURCE } from "../platform/index.js";
import { names } from "../transform/index.js";

const {
  BOOT,
  CATCH,
  DEAD,
  DEPTH,
  DIRECT_EVAL,
  DIRECT_EVAL_ARGS,
  DYNAMIC_IMPORT,
  FINALLY,
  FINISH,
  FUEL,
  HOST_COMPILE,
  HOST_LOG,
  HOST_ORIGINAL,
  HOST_PLATFORM,
  HOST_WARN,
  MAX_DEPTH,
  PRELUDE_API,
  RESERVED_PREFIX,
  RUN_CONFIG,
  SEGMENT_MAX,
  TRIP,
  READ_EVAL,
  WITH_SCOPE,
} = names;

/**
 * The guest-side half of every limit, as JavaScript source run once in each
 * fresh sandbox context before any guest code. It is engine-independent: the
 * engine provides global functions `__wardenLog(level, text)` and
 * `__wardenWarn(budget, fraction)`, which the prelude captures and removes.
 *
 * Everything is strict and held in script-scope `let`/`const` bindings, which
 * are not properties of `globalThis`; guest source may not name them (the
 * instrumenter refuses the prefix), so a guest cannot reach or reset them.
 *
 * The prelude evaluates to an object of host-facing functions:
 * - `finishScript(value)` / `finishModule(namespace)`: await the guest's
 *   result, serialise it to JSON inside the sandbox (so getters and `toJSON`
 *   run under the same limits), check its size, and return
 *   `status + "\n" + json` (json empty when the result is `undefined`).
 * - `status()`: `[deadKind, deadLimit, deadObserved, instructionsUsed]` as a
 *   JSON string built from primitives only, so no guest code runs.
 */
/**
 * The per-run configuration the prelude's `boot()` reads from the global
 * `__wardenRun`, as JSON text. `memoryBytes` 0 means no memory limit: engine
 * RangeErrors for over-long strings and buffers then stay ordinary errors.
 */
export function preludeRunConfig(
  limits: LimitValues,
  inputJson: string | undefined,
  memoryBytes = limits.memoryBytes,
): string {
  return JSON.stringify({
    depth: limits.maxRecursionDepth,
    fuel: limits.maxInstructions,
    warnAt: limits.warnAt,
    valueBytes: limits.maxValueBytes,
    memoryBytes,
    codegen: limits.allowCodeGeneration,
    input: inputJson,
  });
}

/**
 * The prelude's file name in stack frames: it can show in a guest's own
 * `error.stack` (an error thrown through the sandbox's eval), so it names
 * nothing of the sandbox, as the engine's own frames do.
 */
export const PRELUDE_FILENAME = "<anonymous>";

/**
 * Drops what only readers need: indentation, blank lines and whole-line comments (QuickJS
 * compiles the prelude in every fresh context, at a cost proportional to its length). Safe
 * because no string or template literal of the prelude spans lines.
 */
function compact(source: string): string {
  return source
    .split("\n")
    .map((line) => line.trimStart())
    .filter((line) => line !== "" && !line.startsWith("//"))
    .join("\n");
}

export const PRELUDE_SOURCE = compact(String.raw`
const ${SEGMENT_MAX} = 1073741823;
let ${DEPTH} = 0;
let ${MAX_DEPTH} = ${SEGMENT_MAX};
let ${FUEL} = ${SEGMENT_MAX};
let ${DEAD} = null;
// The engine's own eval, as a global lexical binding: guest code reaches it only as the callee of a
// direct eval, whose code the transform instruments first (every other read of the name goes through
// readEval, which gives the sandbox's indirect eval instead). Declared in sloppy code, the only place
// the name can be bound.
let eval = globalThis.eval;
const ${PRELUDE_API} = (() => {
  "use strict";
  // The messages to the host that do not wait for an answer (console lines, warnings, host-call
  // requests) are counted: a warm call the engine makes synchronously gets them after it returns,
  // and waits for as many as its call sent before it answers (engine/v8/instance.ts).
  let hostSent = 0;
  const hostLogNative = globalThis.${HOST_LOG};
  const hostWarnNative = globalThis.${HOST_WARN};
  const hostLog = (level, text) => {
    hostSent++;
    hostLogNative(level, text);
  };
  const hostWarn = (budget, fraction) => {
    hostSent++;
    hostWarnNative(budget, fraction);
  };
  const hostCompile = globalThis.${HOST_COMPILE};
  const hostOriginal = globalThis.${HOST_ORIGINAL};
  const hostPlatform = globalThis.${HOST_PLATFORM};
  delete globalThis.${HOST_PLATFORM};
  delete globalThis.${HOST_LOG};
  delete globalThis.${HOST_WARN};
  delete globalThis.${HOST_COMPILE};
  delete globalThis.${HOST_ORIGINAL};
  const stringify = JSON.stringify;
  const parseJson = JSON.parse;
  const RangeErrorCtor = RangeError;
  // QuickJS only (V8 has no InternalError): the class of its stack-overflow and out-of-memory errors.
  const InternalErrorCtor = typeof InternalError === "function" ? InternalError : RangeError;
  const SyntaxErrorCtor = SyntaxError;
  const EvalErrorCtor = EvalError;
  const getPrototypeOf = Object.getPrototypeOf;
  const setPrototypeOf = Object.setPrototypeOf;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const defineProperty = Object.defineProperty;
  // Puts a new value in an existing property, keeping its attributes as the engine made them.
  const replaceValue = (object, key, value) => {
    const descriptor = getOwnPropertyDescriptor(object, key);
    descriptor.value = value;
    defineProperty(object, key, descriptor);
  };
  const apply = Reflect.apply;
  const WeakMapCtor = WeakMap;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const freeze = Object.freeze;
  const StringCtor = String;
  // Taken now: a guest's String.prototype.slice must never see (or replace) the compiled code.
  const stringSlice = StringCtor.prototype.slice;
  const stringIndexOf = StringCtor.prototype.indexOf;
  const isArray = Array.isArray;
  // The engine's own Promise methods: a guest that patches Promise.prototype.then sees no extra calls.
  const PromiseCtor = Promise;
  const promiseResolveNative = Promise.resolve;
  const promiseThen = Promise.prototype.then;
  const promiseResolve = (value) => apply(promiseResolveNative, PromiseCtor, [value]);
  const promiseRejectNative = Promise.reject;
  const promiseReject = (reason) => apply(promiseRejectNative, PromiseCtor, [reason]);
  const then = (promise, onFulfilled) => apply(promiseThen, promise, [onFulfilled]);

  let depthLimit = 0;
  let fuelLimit = 0;
  let fuelWarnAt = 0;
  let fuelWarned = false;
  let spent = 0;
  let segment = ${SEGMENT_MAX};
  let valueLimit = 0;
  let memoryLimit = 0;
  let codegen = true;
  let input;

  const LimitSignal = function LimitSignal(kind, limit, observed) {
    this.kind = kind;
    this.limit = limit;
    this.observed = observed;
    this.message = "sandbox limit exceeded: " + kind;
    freeze(this);
  };

  let finalUsed = -1;
  const kill = (kind, limit, observed) => {
    if (${DEAD} === null) {
      finalUsed = used();
      ${DEAD} = new LimitSignal(kind, limit, observed);
    }
    // Every later call, loop iteration, catch and finally trips again.
    ${MAX_DEPTH} = -1;
    ${FUEL} = -${SEGMENT_MAX};
    throw ${DEAD};
  };

  const used = () => (finalUsed >= 0 ? finalUsed : spent + (segment - ${FUEL}));

  const nextSegment = () => {
    let next = ${SEGMENT_MAX};
    if (fuelLimit > 0) next = Math.min(next, fuelLimit - spent);
    if (fuelWarnAt > 0 && !fuelWarned && fuelWarnAt > spent) next = Math.min(next, fuelWarnAt - spent);
    segment = next < 0 ? 0 : next;
    ${FUEL} = segment;
  };

  const trip = () => {
    if (${DEAD} !== null) throw ${DEAD};
    if (${DEPTH} > ${MAX_DEPTH}) kill("recursion", depthLimit > 0 ? depthLimit : ${DEPTH}, ${DEPTH});
    if (${FUEL} < 0) {
      spent = spent + segment + 1;
      segment = 0;
      ${FUEL} = 0;
      if (fuelLimit > 0 && spent > fuelLimit) kill("instructions", fuelLimit, spent);
      if (fuelWarnAt > 0 && !fuelWarned && spent > fuelWarnAt) {
        fuelWarned = true;
        hostWarn("instructions", fuelLimit > 0 ? spent / fuelLimit : 0);
      }
      nextSegment();
    }
  };

  const convert = (error) => {
    if (${DEAD} !== null) throw ${DEAD};
    if (error instanceof RangeErrorCtor || error instanceof InternalErrorCtor || error instanceof SyntaxErrorCtor) {
      let message = "";
      try {
        message = StringCtor(error.message);
      } catch {}
      // V8's, then QuickJS's wording (QuickJS: InternalError, or SyntaxError from its JSON and RegExp parsers).
      if (message === "Maximum call stack size exceeded" || message === "stack overflow") kill("recursion", depthLimit > 0 ? depthLimit : 0, depthLimit > 0 ? ${DEPTH} : undefined);
      if (memoryLimit > 0 && (message === "Array buffer allocation failed" || message === "Invalid string length")) kill("memory", memoryLimit, undefined);
      // QuickJS: a failed allocation, or an ArrayBuffer or string longer than QuickJS allows at all.
      if (memoryLimit > 0 && (message === "out of memory" || message === "invalid string length")) kill("memory", memoryLimit, undefined);
      if (memoryLimit > 0 && message === "invalid array buffer length" && !isResizeRangeError(error)) kill("memory", memoryLimit, undefined);
    }
  };
${MEMORY_PRELUDE}
  const checkSize = (text) => {
    if (valueLimit > 0 && text.length > valueLimit) kill("value_size", valueLimit, text.length);
    return text;
  };

  const ErrorBase = Error;
  const format = (value) => {
    if (typeof value === "string") return value;
    // Errors print their stack, as node prints them (JSON would show "{}").
    if (value instanceof ErrorBase) {
      try {
        const stack = value.stack;
        const head = StringCtor(value);
        if (typeof stack !== "string" || stack === "") return head;
        // QuickJS's stacks list the frames only.
        return apply(stringSlice, stack, [0, head.length]) === head ? stack : head + "\n" + stack;
      } catch {}
    }
    if (typeof value === "function") return "[Function " + (value.name || "anonymous") + "]";
    if (typeof value === "object" && value !== null) {
      try {
        const text = stringify(value);
        if (text !== undefined) return text;
      } catch {}
    }
    return StringCtor(value);
  };

  // Functions the sandbox puts in place of the engine's own show as native code, as those did.
  const natives = new WeakMapCtor();
  const realToString = Function.prototype.toString;
  // Each engine words native sources its own way (V8 on one line, QuickJS on three).
  const nativeSource = apply(realToString, freeze, []);
  const stringReplace = String.prototype.replace;
  const native = (fn, name) => {
    apply(weakMapSet, natives, [fn, apply(stringReplace, nativeSource, ["freeze", name])]);
    return fn;
  };
${RESIZABLE_PRELUDE}

  const makeConsole = () => {
    const method = (level) =>
      native(
        {
          [level]() {
            let line = "";
            for (let i = 0; i < arguments.length; i++) line += (i ? " " : "") + format(arguments[i]);
            hostLog(level, checkSize(line));
          },
        }[level],
        level,
      );
    return freeze({
      log: method("log"),
      info: method("info"),
      debug: method("debug"),
      warn: method("warn"),
      error: method("error"),
      trace: method("trace"),
    });
  };

  // Code generation from strings: the host instruments the code first (see engine/codegen.ts), so
  // what eval and the function constructors make is metered like any guest code. Off when the run
  // says allowCodeGeneration: false, with the engine's own error.
  const realEval = globalThis.eval;
  const wellFormed = StringCtor.prototype.isWellFormed;
  // QuickJS hands strings to the host as NUL-terminated UTF-8, which can carry neither a lone
  // surrogate (eval("/\uD800/") would lose it) nor a NUL (eval("/*\0*/") would end at it): such
  // code crosses as JSON text, which escapes both, both ways.
  const crossesAsJson = (text) =>
    (typeof wellFormed === "function" && !apply(wellFormed, text, [])) || apply(stringIndexOf, text, ["\0"]) >= 0;
  const compile = (mode, a, b) => {
    if (!codegen) throw new EvalErrorCtor("Code generation from strings disallowed for this context (allowCodeGeneration: false)");
    checkSize(a);
    checkSize(b);
    const escaped = crossesAsJson(a) || crossesAsJson(b);
    const answer = escaped ? hostCompile("json:" + mode, stringify(a), stringify(b)) : hostCompile(mode, a, b);
    const text = escaped ? parseJson(apply(stringSlice, answer, [1])) : apply(stringSlice, answer, [1]);
    if (answer[0] === "1") return text;
    throw new SyntaxErrorCtor(text);
  };
  const directEval = (code) => (typeof code === "string" ? compile("eval", code, "") : code);
  const directEvalArgs = (args) => {
    if (args.length > 0 && typeof args[0] === "string") args[0] = compile("eval", args[0], "");
    return args;
  };
  const indirectEval = native(
    {
      eval(code) {
        return typeof code === "string" ? realEval(compile("globalEval", code, "")) : code;
      },
    }.eval,
    "eval",
  );
  globalThis.eval = indirectEval;

  const FunctionCtor = Function;
  const replaceConstructor = (kind, original, name, parent) => {
    const made = native(
      {
        [name]: function (parameters) {
          const count = arguments.length;
          let params = "";
          let body = "";
          for (let i = 0; i < count - 1; i++) params += (i ? "," : "") + ${"`${arguments[i]}`"};
          if (count > 0) body = ${"`${arguments[count - 1]}`"};
          const fn = realEval(compile(kind, params, body));
          // Subclasses and Reflect.construct: the prototype comes from new.target, as for the engine's own.
          const target = new.target;
          if (target !== undefined && target !== made) {
            const proto = target.prototype;
            if ((typeof proto === "object" && proto !== null) || typeof proto === "function") setPrototypeOf(fn, proto);
          }
          return fn;
        },
      }[name],
      name,
    );
    defineProperty(made, "prototype", { value: original.prototype, writable: false, enumerable: false, configurable: false });
    if (parent) setPrototypeOf(made, parent);
    replaceValue(original.prototype, "constructor", made);
    return made;
  };
  const SandboxFunction = replaceConstructor("normal", FunctionCtor, "Function");
  globalThis.Function = SandboxFunction;
  replaceConstructor("generator", getPrototypeOf(function* () {}).constructor, "GeneratorFunction", SandboxFunction);
  replaceConstructor("async", getPrototypeOf(async function () {}).constructor, "AsyncFunction", SandboxFunction);
  replaceConstructor("asyncGenerator", getPrototypeOf(async function* () {}).constructor, "AsyncGeneratorFunction", SandboxFunction);

  // The object of a guest's with statement, seen through a Proxy that answers "not here" for the
  // sandbox's reserved names and forwards everything else to the object itself (getters and
  // setters see the object as their receiver). Unqualified calls of the object's methods inside
  // the with body get the proxy as their this: a documented difference.
  const ProxyCtor = Proxy;
  const ObjectCtor = Object;
  const reflectHas = Reflect.has;
  const reflectGet = Reflect.get;
  const reflectSet = Reflect.set;
  const startsWith = String.prototype.startsWith;
  const reflectDelete = Reflect.deleteProperty;
  const objectCreate = Object.create;
  const withScope = (value) => {
    if (value === null || value === undefined) return value; // the engine throws its own TypeError
    const object = ObjectCtor(value);
    // The proxy's own target is an empty object: the engine's checks of a proxy's answers then
    // look at that, never at the guest's object (whose traps, if it is a proxy, see only the
    // operations the with statement itself makes).
    const proxy = new ProxyCtor(objectCreate(null), {
      has: (_, key) => (typeof key === "string" && apply(startsWith, key, ["${RESERVED_PREFIX}"]) ? false : reflectHas(object, key)),
      get: (_, key, receiver) => reflectGet(object, key, receiver === proxy ? object : receiver),
      set: (_, key, newValue, receiver) => reflectSet(object, key, newValue, receiver === proxy ? object : receiver),
      deleteProperty: (_, key) => reflectDelete(object, key),
    });
    return proxy;
  };

  // A guest function's source is shown as the guest wrote it, without the instrumentation.
  const toString = native(
    {
      toString() {
        const fake = apply(weakMapGet, natives, [this]);
        if (fake !== undefined) return fake;
        const text = apply(realToString, this, []);
        if (apply(stringIndexOf, text, ["${RESERVED_PREFIX}"]) < 0) return text;
        const original = hostOriginal(text);
        return original === "" ? text : original;
      },
    }.toString,
    "toString",
  );
  defineProperty(FunctionCtor.prototype, "toString", { value: toString, writable: true, enumerable: false, configurable: true });
  defineProperty(globalThis, "console", { value: makeConsole(), writable: true, enumerable: false, configurable: true });

  // The Web platform globals (URL, TextEncoder, Request, Response, crypto...): accessors that evaluate
  // their group, with the engine's own eval, on first use (src/platform).
  (${PLATFORM_LOADER_SOURCE})(
    globalThis,
    freeze({
      randomBytes: (n) => hostPlatform("random", n, 0),
      digest: (algorithm, data) => hostPlatform("digest", algorithm, data),
      now: () => +hostPlatform("now", 0, 0),
    }),
    (code) => realEval(code),
    (group) => hostPlatform("source", group, 0),
  );

  const serialise = (value, checked) => {
    const json = stringify(value);
    return json === undefined ? "" : checked ? checkSize(json) : json;
  };

  const status = () =>
    "[" +
    (${DEAD} === null
      ? "null,0,0"
      : '"' + ${DEAD}.kind + '",' + ${DEAD}.limit + "," + (${DEAD}.observed === undefined ? -1 : ${DEAD}.observed)) +
    "," + used() + "," + offHeapPeak + "]";

  // checked: false for a result whose parts were size-checked already (a fetch call's response).
  const finish = (value, checked = true) => then(promiseResolve(value), (settled) => {
    const json = serialise(settled, checked);
    return status() + "\n" + json;
  });

  // A run's budgets, from its configuration (preludeRunConfig); a warm instance's calls each set their own.
  const configure = (config) => {
    depthLimit = config.depth > 0 ? config.depth : 0;
    fuelLimit = config.fuel > 0 ? config.fuel : 0;
    fuelWarnAt = fuelLimit > 0 && config.warnAt > 0 ? Math.floor(fuelLimit * config.warnAt) : 0;
    valueLimit = config.valueBytes > 0 ? config.valueBytes : 0;
    memoryLimit = config.memoryBytes > 0 ? config.memoryBytes : 0;
    codegen = config.codegen !== false;
    ${DEPTH} = 0;
    ${MAX_DEPTH} = depthLimit > 0 ? depthLimit : ${SEGMENT_MAX};
    spent = 0;
    fuelWarned = false;
    nextSegment();
  };

${WARM_PRELUDE}
${HOST_CALL_PRELUDE}

  return freeze({
    boot() {
      const config = parseJson(globalThis.${RUN_CONFIG});
      delete globalThis.${RUN_CONFIG};
      configure(config);
      input = config.input === undefined ? undefined : parseJson(config.input);
      // A script's own global \`var input\` or \`function input\` exists before this runs (declarations
      // are made before a script's first statement) and cannot be redefined: a var still unset gets
      // the input, as an assignment; a function keeps its value, as it would raw.
      const own = getOwnPropertyDescriptor(globalThis, "input");
      if (own === undefined || own.configurable) {
        defineProperty(globalThis, "input", { value: input, writable: true, enumerable: false, configurable: true });
      } else if (own.writable && own.value === undefined) {
        globalThis.input = input;
      }
    },
    callInstance,
    startCall,
    takeAnswer,
    waitAnswer,
    sentToHost,
    finishLoad,
    settleCall,
    trip,
    convert,
    status,
    finishScript: finish,
    directEval,
    directEvalArgs,
    indirectEval,
    withScope,
    // Like import(): the specifier is made a string first, and whatever fails rejects the promise,
    // the engine's own (a guest that replaced Promise or Error still gets a real promise, as raw).
    dynamicImport(specifier) {
      try {
        return promiseReject(new ErrorBase("import() is not available in the sandbox (requested " + ${"`${specifier}`"} + ")"));
      } catch (error) {
        return promiseReject(error);
      }
    },
    readEval: (read) => {
      const value = read();
      return value === realEval ? indirectEval : value;
    },
    finishModule(namespace) {
      const main = namespace.default;
      return finish(typeof main === "function" ? then(promiseResolve(), () => main(input)) : main);
    },
  });
})();
const ${BOOT} = ${PRELUDE_API}.boot;
const ${FINISH} = ${PRELUDE_API}.finishScript;
const ${TRIP} = ${PRELUDE_API}.trip;
const ${CATCH} = ${PRELUDE_API}.convert;
const ${FINALLY} = () => {
  if (${DEAD} !== null) throw ${DEAD};
};
const ${DIRECT_EVAL} = ${PRELUDE_API}.directEval;
const ${DIRECT_EVAL_ARGS} = ${PRELUDE_API}.directEvalArgs;
const ${READ_EVAL} = ${PRELUDE_API}.readEval;
const ${WITH_SCOPE} = ${PRELUDE_API}.withScope;
const ${DYNAMIC_IMPORT} = ${PRELUDE_API}.dynamicImport;
${PRELUDE_API};
`);
