/** The errors of `warden serve` itself: subclasses of `WardenError`, statuses from the one table. */
import { WardenError } from "../errors/index.js";

/** No app is served at the request's path (404). */
export class AppNotFoundError extends WardenError {
  /** The path that matched no app. */
  readonly path: string;

  constructor(path: string) {
    super("not_found", "WARDEN_NOT_FOUND", `no app is served at ${JSON.stringify(path)}`);
    this.name = "AppNotFoundError";
    this.path = path;
  }
}

/** The server is draining: a request still waiting, or arriving now, is answered 503. */
export class ShuttingDownError extends WardenError {
  constructor(message = "the server is shutting down; retry on another instance") {
    super("shutting_down", "WARDEN_SHUTTING_DOWN", message);
    this.name = "ShuttingDownError";
  }
}
