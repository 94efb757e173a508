/**
 * The one table of stable error codes. Each code has the HTTP status a server
 * answers with and a one-line description. Codes never change meaning once
 * released; add new ones instead.
 */
export const ERROR_CODES = {
  WARDEN_LIMIT_TIMEOUT: { status: 504, description: "the run exceeded its wall-clock timeout" },
  WARDEN_LIMIT_CPU: { status: 503, description: "the run exceeded its CPU time budget" },
  WARDEN_LIMIT_INSTRUCTIONS: { status: 503, description: "the run exceeded its instruction budget" },
  WARDEN_LIMIT_MEMORY: { status: 503, description: "the sandbox exceeded its memory limit" },
  WARDEN_LIMIT_RECURSION: { status: 500, description: "the run exceeded the maximum call depth" },
  WARDEN_LIMIT_VALUE_SIZE: { status: 413, description: "a value crossing the sandbox boundary was too large" },
  WARDEN_LIMIT_TASKS: { status: 503, description: "too many spawned tasks alive at once" },
  WARDEN_LIMIT_CONNECTIONS: { status: 503, description: "the HTTP server has too many open connections" },
  WARDEN_LIMIT_DATASTORE_SIZE: { status: 507, description: "a datastore namespace is full" },
  WARDEN_LIMIT_SUBREQUESTS: { status: 508, description: "the run made more outgoing fetch() requests than allowed" },
  WARDEN_SCRIPT_ERROR: { status: 500, description: "the guest threw or did not parse" },
  WARDEN_CONFIG_ERROR: { status: 500, description: "a configuration value is malformed" },
  WARDEN_OVERLOADED: { status: 429, description: "a bulkhead queue is full" },
  WARDEN_QUEUE_TIMEOUT: { status: 408, description: "a request waited in a bulkhead queue too long" },
  WARDEN_ENGINE_ERROR: { status: 500, description: "the sandbox engine failed; the sandbox was replaced" },
  WARDEN_DISPOSED: { status: 500, description: "a resource was used after it was disposed" },
  WARDEN_ABORTED: { status: 499, description: "the caller aborted the operation" },
  WARDEN_NOT_FOUND: { status: 404, description: "no app is served at the request's path" },
  WARDEN_SHUTTING_DOWN: { status: 503, description: "the server is draining and admits no more requests" },
  WARDEN_STORE_UNAVAILABLE: { status: 503, description: "a shared bulkhead store (Redis) cannot be reached" },
} as const satisfies Record<string, { status: number; description: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** HTTP status for a code, from the one table above. */
export function statusFor(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
