/** Group `domexception`: DOMException, hand-written (tiny; no npm implementation runs outside Node/browsers). */
import { tag } from "./runtime.js";

const LEGACY_CODES: Record<string, number> = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InUseAttributeError: 10,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};

const CONSTANTS: [string, number][] = [
  ["INDEX_SIZE_ERR", 1],
  ["DOMSTRING_SIZE_ERR", 2],
  ["HIERARCHY_REQUEST_ERR", 3],
  ["WRONG_DOCUMENT_ERR", 4],
  ["INVALID_CHARACTER_ERR", 5],
  ["NO_DATA_ALLOWED_ERR", 6],
  ["NO_MODIFICATION_ALLOWED_ERR", 7],
  ["NOT_FOUND_ERR", 8],
  ["NOT_SUPPORTED_ERR", 9],
  ["INUSE_ATTRIBUTE_ERR", 10],
  ["INVALID_STATE_ERR", 11],
  ["SYNTAX_ERR", 12],
  ["INVALID_MODIFICATION_ERR", 13],
  ["NAMESPACE_ERR", 14],
  ["INVALID_ACCESS_ERR", 15],
  ["VALIDATION_ERR", 16],
  ["TYPE_MISMATCH_ERR", 17],
  ["SECURITY_ERR", 18],
  ["NETWORK_ERR", 19],
  ["ABORT_ERR", 20],
  ["URL_MISMATCH_ERR", 21],
  ["QUOTA_EXCEEDED_ERR", 22],
  ["TIMEOUT_ERR", 23],
  ["INVALID_NODE_TYPE_ERR", 24],
  ["DATA_CLONE_ERR", 25],
];

const names = new WeakMap<object, { name: string; message: string }>();

function state(self: unknown): { name: string; message: string } {
  const found = typeof self === "object" && self !== null ? names.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

/** The Web IDL DOMException: an Error whose name, message and code are prototype getters (as in Node). */
export class DOMException extends Error {
  constructor(message: unknown = "", options: unknown = "Error") {
    super();
    // Error's constructor made an own `message`; Web IDL puts it on the prototype.
    delete (this as { message?: string }).message;
    let name = "Error";
    let cause: { value: unknown } | undefined;
    if (typeof options === "object" && options !== null) {
      const o = options as { name?: unknown; cause?: unknown };
      if ("cause" in o) cause = { value: o.cause };
      name = o.name === undefined ? "Error" : String(o.name);
    } else if (options !== undefined) name = String(options);
    names.set(this, { name, message: message === undefined ? "" : String(message) });
    if (cause) Object.defineProperty(this, "cause", { value: cause.value, writable: true, configurable: true });
  }

  override get name(): string {
    return state(this).name;
  }

  override get message(): string {
    return state(this).message;
  }

  get code(): number {
    return LEGACY_CODES[state(this).name] ?? 0;
  }
}

for (const [key, value] of CONSTANTS) {
  Object.defineProperty(DOMException, key, { value, enumerable: true });
  Object.defineProperty(DOMException.prototype, key, { value, enumerable: true });
}
for (const key of ["name", "message", "code"]) {
  const descriptor = Object.getOwnPropertyDescriptor(DOMException.prototype, key);
  if (descriptor) Object.defineProperty(DOMException.prototype, key, { ...descriptor, enumerable: true });
}
tag(DOMException, "DOMException");
