/**
 * Identifiers the instrumentation uses inside the guest realm. They live in the
 * guest's global lexical scope (script-scope `let`/`const`), which guest code
 * can only reach by name; any guest source naming an identifier with this
 * prefix is refused, so guests cannot read or reset their own budgets.
 */
export const RESERVED_PREFIX = "__warden";

/** Current call depth. */
export const DEPTH = "__wardenD";
/** Maximum call depth for this run (Infinity when disabled; -1 once a limit tripped). */
export const MAX_DEPTH = "__wardenM";
/** Instructions left before the next checkpoint (warning or exhaustion). */
export const FUEL = "__wardenF";
/** Called when a check fails: decides which limit tripped and throws it. */
export const TRIP = "__wardenT";
/** First statement of every guest `catch`: rethrows limit errors, converts engine resource errors. */
export const CATCH = "__wardenC";
/** First statement of every guest `finally`: refuses to run guest code after a limit. */
export const FINALLY = "__wardenX";
/** Frame-local flag of async functions and generators: suspended at an await/yield. */
export const SUSPENDED = "__wardenS";
/** Frame-local temporary of async functions and generators. */
export const TEMP = "__wardenV";
/** Catch parameter name when the guest gave none or a destructuring pattern. */
export const CATCH_PARAM = "__wardenE";
/** Replacement for dynamic `import()`, which the sandbox refuses with a clear error. */
export const DYNAMIC_IMPORT = "__wardenImport";
/** First statement of every run: reads the per-run configuration. */
export const BOOT = "__wardenBoot";
/** The constant the first statement declares (a declaration keeps the script's completion value its own). */
export const BOOTED = "__wardenB";
/** Wraps a script's last expression statement so that one engine call returns the serialised result. */
export const FINISH = "__wardenFinish";
/** Wraps the code argument of a direct `eval(...)`: instruments it, keeping the call a direct eval. */
export const DIRECT_EVAL = "__wardenDE";
/** Like {@link DIRECT_EVAL} for a direct eval called with spread arguments: takes and returns the argument list. */
export const DIRECT_EVAL_ARGS = "__wardenDA";
/**
 * Every reference to the global `eval` other than a direct call: reads the binding (through a
 * with-object, or what a sloppy script assigned to it), giving the sandbox's indirect eval, which
 * instruments its code, for the engine's own.
 */
export const READ_EVAL = "__wardenRE";
/** Wraps the object of a `with` statement so that no name with the reserved prefix resolves through it. */
export const WITH_SCOPE = "__wardenWS";
/** Host function the engine installs for the prelude: console output (`level`, `text`). */
export const HOST_LOG = "__wardenLog";
/** Host function the engine installs for the prelude: a budget crossed its warning threshold. */
export const HOST_WARN = "__wardenWarn";
/** Host function the engine installs for the prelude: instruments code made from strings (see engine/codegen.ts). */
export const HOST_COMPILE = "__wardenCompile";
/** Host function the engine installs for the prelude: the guest's own text of a function. */
export const HOST_ORIGINAL = "__wardenOriginal";
/** Host function the engine installs for the prelude: the Web platform layer's host side (`op`, `a`, `b`; see engine/platform-host.ts). */
export const HOST_PLATFORM = "__wardenPlatform";
/** Host function the engine installs for the prelude: a host call's request (`id`, `name`, `argsJson`; see engine/prelude-host.ts). */
export const HOST_CALL = "__wardenCall";
/** Global the engine sets before each run: the prelude's per-run configuration as JSON text. */
export const RUN_CONFIG = "__wardenRun";
/** The prelude's host-facing functions (script-scope constant). */
export const PRELUDE_API = "__wardenP";
/** The limit signal once a limit tripped, else null (script-scope binding). */
export const DEAD = "__wardenDead";
/** The largest fuel segment the prelude hands out at once. */
export const SEGMENT_MAX = "__wardenSegmentMax";
