/**
 * Fastify plugin: every request holds a bulkhead slot of its user from the
 * `onRequest` hook (before the body is read, so shed load costs little)
 * until the response is done or the client goes away. Exported as the
 * package's `warden/fastify` subpath, so `import "warden"` never loads
 * Fastify's plugin helper.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { isAbortedError } from "../errors/index.js";
import type { Bulkhead } from "./bulkhead.js";
import { renderBulkheadError } from "./http.js";

/** Options of {@link fastifyBulkhead}. */
export interface FastifyBulkheadOptions {
  /** The bulkhead to hold slots of; the caller owns it (and closes it). */
  bulkhead: Bulkhead;
  /** Who the request belongs to: an API key, an account id, `request.ip`. */
  userId: (request: FastifyRequest) => string | PromiseLike<string>;
}

const wardenBulkheadPlugin: FastifyPluginAsync<FastifyBulkheadOptions> = async function wardenBulkheadPlugin(
  fastify,
  options,
) {
  const { bulkhead, userId } = options;
  if (typeof userId !== "function") throw new TypeError("fastifyBulkhead: the option userId must be a function");

  fastify.addHook("onRequest", async function wardenBulkheadOnRequest(request, reply) {
    const res = reply.raw;
    const controller = new AbortController();
    // Before a slot is granted, 'close' can only mean the client went away.
    const onCloseWhileQueued = (): void => controller.abort(new Error("client closed the connection"));
    res.once("close", onCloseWhileQueued);
    try {
      const permit = await bulkhead.acquire(await userId(request), { signal: controller.signal });
      if (res.destroyed || res.writableFinished) {
        permit.release();
        return;
      }
      // 'close' comes after the response is sent and when the client drops: either frees the slot.
      res.once("close", () => permit.release());
    } catch (error) {
      const rendered = renderBulkheadError(error);
      if (rendered !== undefined) return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
      // The client left while queued: nobody to answer.
      if (isAbortedError(error) && res.destroyed) return reply.hijack();
      throw error;
    } finally {
      res.off("close", onCloseWhileQueued);
    }
  });
};

/**
 * Fastify plugin holding a bulkhead slot per request: 429 with `Retry-After`
 * when the user's or the global queue is full, 408 after the queue timeout,
 * both as JSON. Registered without encapsulation (it applies to the context
 * that registers it, routes of sibling plugins included).
 *
 * ```ts
 * await app.register(fastifyBulkhead, { bulkhead, userId: (request) => request.ip });
 * ```
 */
export const fastifyBulkhead = fastifyPlugin(wardenBulkheadPlugin, { fastify: "5.x", name: "warden-bulkhead" });
