/**
 * The prelude's part for warm instances (the engine contract's `load` and
 * `call`): a module loaded once, whose default export each call runs, either
 * with a JSON input (`call`) or, Workers-style, with a `Request` (`fetch`).
 * A function source, `(internals) => part`, that the prelude evaluates with
 * the engine's own eval on a warm instance's first load (fresh runs never
 * need it), and calls with the prelude's bindings it uses.
 */
export const WARM_PART = String.raw`(function (internals) {
  "use strict";
  const {
    finish, kill, configure, valueLimit, resetHostCalls, base64, then, promiseResolve, parseJson, freeze, apply,
    promiseThen, TypeErrorCtor, Uint8ArrayCtor,
  } = internals;

  const ignore = () => {};

  // A Workers-style call: the module's default export is { fetch(request, env, ctx) } or a function
  // of the same arguments; it answers with a Response, or a string or JSON data made into one.
  const serveFetch = async (main, description) => {
    const handler =
      typeof main === "function"
        ? main
        : main !== null && typeof main === "object" && typeof main.fetch === "function"
          ? (request, env, ctx) => main.fetch(request, env, ctx)
          : undefined;
    if (handler === undefined) {
      throw new TypeErrorCtor("the module's default export has no fetch(request, env, ctx) method and is not a function");
    }
    const RequestCtor = globalThis.Request;
    const ResponseCtor = globalThis.Response;
    const init = { method: description.method, headers: description.headers };
    if (description.body !== null) init.body = base64().fromBase64(description.body);
    const request = new RequestCtor(description.url, init);
    const waits = [];
    const ctx = freeze({
      waitUntil(promise) {
        waits.push(apply(promiseThen, promiseResolve(promise), [ignore, ignore]));
      },
      passThroughOnException() {},
    });
    let response = await handler(request, description.env, ctx);
    if (!(response instanceof ResponseCtor)) {
      response =
        typeof response === "string"
          ? new ResponseCtor(response, { headers: { "content-type": "text/plain;charset=UTF-8" } })
          : ResponseCtor.json(response);
    }
    const bytes = new Uint8ArrayCtor(await response.arrayBuffer());
    if (valueLimit() > 0 && bytes.length > valueLimit()) kill("value_size", valueLimit(), bytes.length);
    // The body and the headers are each held to maxValueBytes (the base64 envelope is not).
    const headers = [];
    let headerBytes = 0;
    response.headers.forEach((value, name) => {
      headers.push([name, value]);
      headerBytes += name.length + value.length;
    });
    if (valueLimit() > 0 && headerBytes > valueLimit()) kill("value_size", valueLimit(), headerBytes);
    // ctx.waitUntil: the call (and its sandbox) lasts until every promise handed to it settles.
    for (let i = 0; i < waits.length; i++) await waits[i];
    return { status: response.status, statusText: response.statusText, headers, body: base64().toBase64(bytes) };
  };

  // One call: its budgets (configText, as preludeRunConfig makes it), then the default export.
  // After a module's load: a Workers-style app's first request would pay for evaluating the
  // fetch classes (milliseconds on QuickJS); the load pays instead.
  const finishLoad = (namespace) => {
    const main = namespace.default;
    if (main !== null && typeof main === "object" && typeof main.fetch === "function") {
      void globalThis.Request;
      void globalThis.Response;
      void globalThis.Headers;
      void globalThis.URL;
    }
    return finish(undefined);
  };

  const callInstance = (namespace, kind, inputText, configText) => {
    configure(parseJson(configText));
    // Timers and host calls left by the previous call were cancelled when it ended.
    resetHostCalls();
    const main = namespace.default;
    if (kind === "call") {
      if (typeof main !== "function") {
        throw new TypeErrorCtor("the module's default export is not a function: call() runs export default function (input)");
      }
      const value = inputText === "" ? undefined : parseJson(inputText);
      return finish(then(promiseResolve(), () => main(value)));
    }
    return finish(then(promiseResolve(), () => serveFetch(main, parseJson(inputText))), false);
  };

  return { callInstance, finishLoad };
})`;

/**
 * The prelude's eager side of warm instances, spliced into its body: the
 * part's source as a string, made on first use, and the two functions the
 * engines call.
 */
export const WARM_PRELUDE = String.raw`
  const TypeErrorCtor = TypeError;
  const Uint8ArrayCtor = Uint8Array;
  let warmPartMade;
  const warmPart = () =>
    (warmPartMade ??= realEval(${JSON.stringify(WARM_PART)})(
      freeze({
        finish, kill, configure, valueLimit: () => valueLimit, resetHostCalls: () => resetHostCalls(),
        base64: () => hostPart(), then, promiseResolve, parseJson, freeze, apply, promiseThen, TypeErrorCtor,
        Uint8ArrayCtor,
      }),
    ));
  const callInstance = (namespace, kind, inputText, configText) =>
    warmPart().callInstance(namespace, kind, inputText, configText);
  const finishLoad = (namespace) => warmPart().finishLoad(namespace);

  // A call the engine makes synchronously (engine/v8/instance.ts): startCall runs it up to its
  // first wait; the guest's promise jobs run as the engine's synchronous call returns, so
  // takeAnswer then has the answer of a call that needed no host (null if it still waits), after
  // the number of messages the call sent the host and a colon; waitAnswer is the promise of one
  // that waits. The box is the prelude's own object, out of the guest's reach; the promise is the
  // engine's, settled through the then captured at start.
  let callBox;
  const startCall = (namespace, kind, inputText, configText) => {
    const box = { state: 0, value: undefined, promise: undefined };
    callBox = box;
    hostSent = 0;
    try {
      box.promise = callInstance(namespace, kind, inputText, configText);
    } catch (error) {
      box.state = 2;
      box.value = error;
      return;
    }
    apply(promiseThen, box.promise, [
      (value) => {
        box.state = 1;
        box.value = value;
      },
      (error) => {
        box.state = 2;
        box.value = error;
      },
    ]);
  };
  const takeAnswer = () => {
    const box = callBox;
    if (box === undefined || box.state === 0) return null;
    callBox = undefined;
    if (box.state === 2) throw box.value;
    return hostSent + ":" + box.value;
  };
  // The messages the call sent the host so far (for a synchronous call that threw).
  const sentToHost = () => hostSent;
  const waitAnswer = () => {
    const box = callBox;
    callBox = undefined;
    if (box === undefined) return promiseReject(new TypeErrorCtor("no call is waiting for its answer"));
    return box.state === 2 ? promiseReject(box.value) : box.promise;
  };
`;
