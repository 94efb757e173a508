import { names } from "../transform/index.js";

const { HOST_CALL } = names;

/**
 * The prelude's part for the host-call channel: the one request/response
 * path from a guest to the host's facilities (datastore, timers, spawn). A
 * JavaScript source fragment spliced into the prelude's body after `kill`,
 * `checkSize`, `stringify`, `parseJson`, `freeze`, `apply`, `native`,
 * `defineProperty` and the Promise helpers.
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
export const HOST_CALL_PRELUDE = String.raw`
  const hostRequest = globalThis.${HOST_CALL};
  delete globalThis.${HOST_CALL};
  const ErrorCtor = Error;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
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
      for (const [id, timer] of timers) {
        if (timer.at > due) continue;
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
  const defineGlobal = (name, value) =>
    defineProperty(globalThis, name, { value: native(value, name), writable: true, enumerable: false, configurable: true });
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
`;
