/**
 * HTTP helpers for Node's `http` module and Express-style frameworks: a
 * middleware that holds a bulkhead slot for the life of a response, and the
 * one renderer that turns bulkhead errors into 429 and 408 answers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isAbortedError, isOverloadError, isQueueTimeoutError, isStoreUnavailableError } from "../errors/index.js";
import type { Bulkhead, BulkheadPermit } from "./bulkhead.js";

/** Body of a 429 answer. */
export interface TooManyRequestsBody {
  readonly status: 429;
  readonly error: "too_many_requests";
  readonly message: string;
  /** Seconds, the same as the `Retry-After` header. */
  readonly retry_after: number;
}

/** Body of a 408 answer. */
export interface RequestTimeoutBody {
  readonly status: 408;
  readonly error: "request_timeout";
  readonly message: string;
}

/** Body of a 503 answer: the shared store (Redis) cannot be reached and the bulkhead fails closed. */
export interface ServiceUnavailableBody {
  readonly status: 503;
  readonly error: "service_unavailable";
  readonly message: string;
  /** Seconds, the same as the `Retry-After` header. */
  readonly retry_after: number;
}

/** An HTTP answer for a bulkhead error. */
export interface BulkheadErrorResponse {
  readonly status: 429 | 408 | 503;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: TooManyRequestsBody | RequestTimeoutBody | ServiceUnavailableBody;
}

/**
 * The answer for a bulkhead error: 429 with `Retry-After` for an
 * `OverloadError`, 408 for a `QueueTimeoutError`, 503 with `Retry-After` for
 * a `StoreUnavailableError`; `undefined` for anything else (the caller's
 * error handling takes over).
 */
export function renderBulkheadError(error: unknown): BulkheadErrorResponse | undefined {
  if (isOverloadError(error)) {
    return {
      status: 429,
      headers: { "retry-after": String(error.retryAfter) },
      body: { status: 429, error: "too_many_requests", message: error.message, retry_after: error.retryAfter },
    };
  }
  if (isQueueTimeoutError(error)) {
    return { status: 408, headers: {}, body: { status: 408, error: "request_timeout", message: error.message } };
  }
  if (isStoreUnavailableError(error)) {
    return {
      status: 503,
      headers: { "retry-after": String(error.retryAfter) },
      body: {
        status: 503,
        error: "service_unavailable",
        message: "the service cannot admit requests right now",
        retry_after: error.retryAfter,
      },
    };
  }
  return undefined;
}

/** Writes a rendered answer as JSON on a Node response. */
export function sendBulkheadError(res: ServerResponse, response: BulkheadErrorResponse): void {
  const body = JSON.stringify(response.body);
  res.writeHead(response.status, {
    ...response.headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** Options of {@link bulkheadMiddleware} and {@link bulkheadHandler}. */
export interface BulkheadHttpOptions<Req extends IncomingMessage = IncomingMessage> {
  /** The bulkhead to hold slots of; the caller owns it (and closes it). */
  bulkhead: Bulkhead;
  /** Who the request belongs to: an API key, an account id, an IP address. */
  userId: (request: Req) => string | PromiseLike<string>;
}

/** An Express-style `next`: no argument to go on, an error to hand to the error handler. */
export type NextFunction = (error?: unknown) => void;

/**
 * Holds a slot of `userId(req)` from before `next()` until the response
 * finishes or the client goes away. A full queue answers 429 with
 * `Retry-After`, a queue timeout 408, both as JSON; a client that leaves
 * while queued just leaves the queue; other errors go to `next(error)`.
 * Works as Express middleware and with plain `http` (see {@link bulkheadHandler}).
 */
export function bulkheadMiddleware<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(options: BulkheadHttpOptions<Req>): (req: Req, res: Res, next: NextFunction) => void {
  const { bulkhead, userId } = options;
  return function wardenBulkhead(req: Req, res: Res, next: NextFunction): void {
    const controller = new AbortController();
    // 'close' comes when the response is done or the connection dropped; before
    // a slot is granted it can only mean the client went away.
    const onCloseWhileQueued = (): void => controller.abort(new Error("client closed the connection"));
    res.once("close", onCloseWhileQueued);

    const granted = (permit: BulkheadPermit): void => {
      res.off("close", onCloseWhileQueued);
      if (res.destroyed || res.writableFinished) {
        permit.release();
        return;
      }
      const release = (): void => permit.release();
      res.once("finish", release);
      res.once("close", release);
      next();
    };
    const failed = (error: unknown): void => {
      res.off("close", onCloseWhileQueued);
      if (res.destroyed || res.headersSent) return;
      const rendered = renderBulkheadError(error);
      if (rendered !== undefined) sendBulkheadError(res, rendered);
      else if (!isAbortedError(error)) next(error);
    };

    new Promise<string>((resolve) => resolve(userId(req)))
      .then((id) => bulkhead.acquire(id, { signal: controller.signal }))
      .then(granted, failed);
  };
}

/**
 * Wraps a plain `http` request handler in {@link bulkheadMiddleware}. Errors
 * of the handler (thrown or rejected) and of `userId` answer a bare 500
 * without details, unless the response has already started.
 *
 * ```ts
 * http.createServer(bulkheadHandler({ bulkhead, userId: (req) => String(req.headers["x-api-key"]) }, handle));
 * ```
 */
export function bulkheadHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  options: BulkheadHttpOptions<Req> & {
    /** Sees every error answered with 500 (log it here). */
    onError?: (error: unknown, req: Req) => void;
  },
  handler: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => void {
  const middleware = bulkheadMiddleware<Req, Res>(options);
  const onError = options.onError;
  const fail = (error: unknown, req: Req, res: Res): void => {
    onError?.(error, req);
    internalError(res);
  };
  const internalError = (res: Res): void => {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ status: 500, error: "internal_server_error" });
    res.writeHead(500, { "content-type": "application/json; charset=utf-8" }).end(body);
  };
  return function wardenBulkheadHandler(req: Req, res: Res): void {
    middleware(req, res, (error) => {
      if (error !== undefined) {
        fail(error, req, res);
        return;
      }
      try {
        const result = handler(req, res);
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
          (result as PromiseLike<unknown>).then(undefined, (rejection: unknown) => fail(rejection, req, res));
        }
      } catch (thrown) {
        fail(thrown, req, res);
      }
    });
  };
}
