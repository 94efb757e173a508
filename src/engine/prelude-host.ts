import { names } from "../transform/index.js";

const { HOST_CALL } = names;

/**
 * The prelude's part for the host-call channel (compiled on first use, see
 * {@link HOST_CALL_PRELUDE}): the one request/response
 * path from a guest to the host's facilities (datastore, timers, spawn). A
 * function source, `(internals) => part`, that the prelude evaluates with
 * the engine's own eval the first time a run needs it, and calls with the
 * prelude's bindings it uses (captured before any guest code ran).
 *
 * The guest side sends `__wardenCall(id, name, argsJson)` (a one-way host
 * function the engine installs; arguments size-checked here first) and keeps
 * the call's promise; the engine answers through the prelude's
 * `settleCall(id, outcome, text)`: `"ok"` with the answer as JSON text,
 * `"error"` with a message (the promise rejects with an Error), or `"limit"`
 * with `[kind, limit, observed]` (a limit the host enforced, such as the
 * datastore's size: terminal, like every limit). Calls still pending when a
 * run ends are cancelled by the host.
 *
 * On top of it: the timers (`setTimeout`, `setInterval`, `clearTimeout`,
 * `clearInterval`: one host sleep at a time, for the earliest deadline, so a
 * guest with a million timers costs its own memory and one host timer), and
 * `datastore(name)`.
 */
export const HOST_CALL_PART = String.raw`(function (internals) {
  "use strict";
  const {
    hostRequest, hostPlatform, checkSize, stringify, parseJson, PromiseCtor, apply, promiseThen, then, kill,
    defineProperty, native, isArray, freeze, TypeErrorCtor, ErrorCtor, MapCtor, mapGet, mapSet, mapDelete,
    Uint8ArrayCtor,
  } = internals;
  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Bodies cross the sandbox's edge as base64 inside JSON (bytes, not text: any body).
  const toBase64 = (bytes) => {
    let out = "";
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + BASE64[(n >> 6) & 63] + BASE64[n & 63];
    }
    if (i < bytes.length) {
      const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
      out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + (i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : "=") + "=";
    }
    return out;
  };
  const fromBase64 = (text) => {
    const clean = text.length > 0 && text[text.length - 1] === "=" ? (text[text.length - 2] === "=" ? text.slice(0, -2) : text.slice(0, -1)) : text;
    const bytes = new Uint8ArrayCtor(Math.floor((clean.length * 3) / 4));
    let bits = 0;
    let count = 0;
    let j = 0;
    for (let i = 0; i < clean.length; i++) {
      bits = (bits << 6) | BASE64.indexOf(clean[i]);
      count += 6;
      if (count >= 8) {
        count -= 8;
        bytes[j++] = (bits >> count) & 255;
      }
    }
    return bytes;
  };

  const calls = new MapCtor();
  let nextCall = 1;
  const hostCall = (name, args) => {
    const text = checkSize(stringify(args));
    const id = nextCall++;
    return new PromiseCtor((resolve, reject) => {
      apply(mapSet, calls, [id, { resolve, reject }]);
      hostRequest(id, name, text);
    });
  };
  const settleCall = (id, outcome, text) => {
    const entry = apply(mapGet, calls, [id]);
    if (entry === undefined) return;
    apply(mapDelete, calls, [id]);
    if (outcome === "ok") entry.resolve(text === "" ? undefined : parseJson(text));
    else if (outcome === "limit") {
      const [kind, limit, observed] = parseJson(text);
      try {
        kill(kind, limit, observed);
      } catch (signal) {
        entry.reject(signal);
      }
    } else {
      const info = parseJson(text);
      const error = new ErrorCtor(info.message);
      if (info.name !== "Error") defineProperty(error, "name", { value: info.name, writable: true, enumerable: false, configurable: true });
      if (info.code !== undefined) error.code = info.code;
      entry.reject(error);
    }
  };

  const resetHostCalls = () => {
    calls.clear();
    timers.clear();
    sleeping = 0;
  };

  // Timers: a heap-free list is enough (timers are few in practice; the host sleeps for the earliest).
  const timers = new MapCtor();
  let nextTimer = 1;
  let sleeping = 0; // the deadline the host sleep in flight wakes at, or 0
  const now = () => +hostPlatform("now", 0, 0);
  const schedule = () => {
    let earliest = 0;
    for (const timer of timers.values()) if (earliest === 0 || timer.at < earliest) earliest = timer.at;
    if (earliest === 0 || (sleeping !== 0 && sleeping <= earliest)) return;
    sleeping = earliest;
    then(hostCall("timer", [Math.max(0, earliest - now())]), () => {
      sleeping = 0;
      const due = now();
      // Every timer due by now, earliest deadline first (a late wake-up finds several due).
      const ready = [];
      for (const [id, timer] of timers) if (timer.at <= due) ready.push([id, timer]);
      ready.sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      for (const [id, timer] of ready) {
        if (timers.get(id) !== timer) continue; // cleared by a callback that ran before it
        if (timer.every === undefined) timers.delete(id);
        else timer.at = due + timer.every;
        apply(timer.fn, undefined, timer.args);
      }
      schedule();
    });
  };
  const addTimer = (fn, delay, args, repeat) => {
    if (typeof fn !== "function") throw new TypeErrorCtor("The \"callback\" argument must be of type function");
    const ms = delay > 0 ? +delay : 0;
    const id = nextTimer++;
    timers.set(id, { fn, args, at: now() + ms, every: repeat ? Math.max(1, ms) : undefined });
    schedule();
    return id;
  };
  const removeTimer = (id) => {
    timers.delete(id);
  };
  const globals = {};
  const defineGlobal = (name, value) => {
    globals[name] = native(value, name);
  };
  defineGlobal("setTimeout", { setTimeout: (fn, delay, ...args) => addTimer(fn, delay, args, false) }.setTimeout);
  defineGlobal("setInterval", { setInterval: (fn, delay, ...args) => addTimer(fn, delay, args, true) }.setInterval);
  defineGlobal("clearTimeout", { clearTimeout: (id) => removeTimer(id) }.clearTimeout);
  defineGlobal("clearInterval", { clearInterval: (id) => removeTimer(id) }.clearInterval);

  // spawn and parallel: other modules, each in a sandbox of its own, under the task cap.
  const spawnTask = (specifier, input, limits) =>
    hostCall("spawn", [typeof specifier === "string" ? specifier : String(specifier), input === undefined ? null : stringify(input), limits === undefined ? null : limits]);
  defineGlobal(
    "spawn",
    {
      spawn(specifier, input, options) {
        return spawnTask(specifier, input, options !== null && typeof options === "object" ? options.limits : undefined);
      },
    }.spawn,
  );
  defineGlobal(
    "parallel",
    {
      parallel(tasks, options) {
        const list = [...tasks];
        const wanted = options !== null && typeof options === "object" ? +options.concurrency : 0;
        const width = wanted >= 1 ? Math.min(Math.floor(wanted), list.length) : list.length;
        return new PromiseCtor((resolve, reject) => {
          const results = new Array(list.length);
          let started = 0;
          let finished = 0;
          if (list.length === 0) return resolve(results);
          const start = () => {
            const index = started++;
            const task = list[index];
            const [specifier, input, limits] = isArray(task)
              ? [task[0], task[1], task[2]]
              : task !== null && typeof task === "object"
                ? [task.specifier, task.input, task.limits]
                : [task, undefined, undefined];
            apply(promiseThen, spawnTask(specifier, input, limits), [
              (value) => {
                results[index] = value;
                finished++;
                if (finished === list.length) resolve(results);
                else if (started < list.length) start();
              },
              reject,
            ]);
          };
          for (let i = 0; i < width; i++) start();
        });
      },
    }.parallel,
  );

  // fetch(): outgoing requests through the host, to the origins it allows, counted per run.
  defineGlobal(
    "fetch",
    {
      async fetch(input, init) {
        const RequestCtor = globalThis.Request;
        const ResponseCtor = globalThis.Response;
        const request = new RequestCtor(input, init);
        const body = request.body === null ? null : toBase64(new Uint8ArrayCtor(await request.arrayBuffer()));
        const headers = [];
        request.headers.forEach((value, name) => headers.push([name, value]));
        const answer = await hostCall("fetch", { method: request.method, url: request.url, headers, body });
        const status = answer.status;
        const empty = status === 204 || status === 205 || status === 304;
        return new ResponseCtor(empty ? null : fromBase64(answer.body), {
          status,
          statusText: answer.statusText,
          headers: answer.headers,
        });
      },
    }.fetch,
  );

  // The datastore: JSON values by key in namespaces the host lets this sandbox open.
  const storeOperation = (namespace, op) =>
    (...args) => hostCall("datastore", [namespace, op, args]);
  defineGlobal(
    "datastore",
    {
      datastore(name) {
        if (typeof name !== "string") throw new TypeErrorCtor("datastore(name): the name must be a string");
        const operation = (op) => storeOperation(name, op);
        return freeze({
          name,
          get: operation("get"),
          set: operation("set"),
          delete: operation("delete"),
          has: operation("has"),
          keys: operation("keys"),
          increment: operation("increment"),
          push: operation("push"),
          pop: operation("pop"),
          shift: operation("shift"),
          size: operation("size"),
        });
      },
    }.datastore,
  );

  return { settleCall, resetHostCalls, toBase64, fromBase64, globals };
})`;

/** The names of the globals the host-call part defines. */
const HOST_GLOBALS = [
  "setTimeout",
  "setInterval",
  "clearTimeout",
  "clearInterval",
  "spawn",
  "parallel",
  "fetch",
  "datastore",
];

/**
 * The prelude's eager side of the host-call channel, spliced into its body: the
 * host's request function taken before any guest code, the part's source as a
 * string (QuickJS compiles what it evaluates, and most runs never need the
 * part: a string literal costs next to nothing), and its globals as accessors
 * that make the part on first use (or take a value assigned to them, as data
 * properties do), then become writable, configurable, non-enumerable data
 * properties, as the engine's own globals are.
 */
export const HOST_CALL_PRELUDE = String.raw`
  const hostRequestNative = globalThis.${HOST_CALL};
  delete globalThis.${HOST_CALL};
  const hostRequest = (id, name, text) => {
    hostSent++;
    hostRequestNative(id, name, text);
  };
  // Taken now, before any guest code: the part is made later, when the guest may have changed them.
  const hostInternals = freeze({
    hostRequest, hostPlatform, checkSize, stringify, parseJson, PromiseCtor, apply, promiseThen, then, kill,
    defineProperty, native, isArray, freeze, TypeErrorCtor, ErrorCtor: Error, MapCtor: Map, mapGet: Map.prototype.get,
    mapSet: Map.prototype.set, mapDelete: Map.prototype.delete, Uint8ArrayCtor,
  });
  let hostPartMade;
  const hostPart = () => (hostPartMade ??= realEval(${JSON.stringify(HOST_CALL_PART)})(hostInternals));
  const settleCall = (id, outcome, text) => (hostPartMade === undefined ? undefined : hostPartMade.settleCall(id, outcome, text));
  const resetHostCalls = () => {
    if (hostPartMade !== undefined) hostPartMade.resetHostCalls();
  };
  const getters = { __proto__: null };
  const hostGlobal = (name, value) =>
    defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
  for (const name of ${JSON.stringify(HOST_GLOBALS)}) {
    const get = () => {
      const globals = hostPart().globals;
      for (const other of ${JSON.stringify(HOST_GLOBALS)}) {
        const descriptor = getOwnPropertyDescriptor(globalThis, other);
        if (descriptor !== undefined && descriptor.get === getters[other]) hostGlobal(other, globals[other]);
      }
      return globals[name];
    };
    getters[name] = get;
    defineProperty(globalThis, name, { get, set: (value) => hostGlobal(name, value), enumerable: false, configurable: true });
  }
`;
