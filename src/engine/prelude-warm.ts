/**
 * The prelude's part for warm instances (the engine contract's `load` and
 * `call`): a module loaded once, whose default export each call runs, either
 * with a JSON input (`call`) or, Workers-style, with a `Request` (`fetch`).
 * It runs inside the prelude's strict IIFE and uses its bindings (`finish`,
 * `kill`, `configure`, `valueLimit`, `then`, `promiseResolve`, `parseJson`, `freeze`, `apply`).
 */
export const WARM_PRELUDE = String.raw`
  const TypeErrorCtor = TypeError;
  const Uint8ArrayCtor = Uint8Array;
  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Bodies cross the sandbox's edge as base64 inside the JSON result (bytes, not text: any body).
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
    if (description.body !== null) init.body = fromBase64(description.body);
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
    if (valueLimit > 0 && bytes.length > valueLimit) kill("value_size", valueLimit, bytes.length);
    // The body and the headers are each held to maxValueBytes (the base64 envelope is not).
    const headers = [];
    let headerBytes = 0;
    response.headers.forEach((value, name) => {
      headers.push([name, value]);
      headerBytes += name.length + value.length;
    });
    if (valueLimit > 0 && headerBytes > valueLimit) kill("value_size", valueLimit, headerBytes);
    // ctx.waitUntil: the call (and its sandbox) lasts until every promise handed to it settles.
    for (let i = 0; i < waits.length; i++) await waits[i];
    return { status: response.status, statusText: response.statusText, headers, body: toBase64(bytes) };
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
`;
