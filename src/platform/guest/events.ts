/**
 * Group `events`: Event and EventTarget from event-target-shim; CustomEvent,
 * AbortController and AbortSignal written on top of them (the npm
 * abort-controller predates `reason`, `throwIfAborted` and `AbortSignal.any`).
 * The build replaces event-target-shim's look-up of the global object (it
 * would read the guest's globals, and `Event` among them is this group's own
 * lazy accessor) with group `domexception`.
 */
import {
  Event as ShimEvent,
  EventTarget,
  getEventAttributeValue,
  setErrorHandler,
  setEventAttributeValue,
  setWarningHandler,
} from "event-target-shim";
import type * as DomException from "./dom-exception.js";
import { platform, tag } from "./runtime.js";

// A listener that throws does not stop the dispatch; its error surfaces as an unhandled rejection
// (there is no console or "error" event to report it to). Misuse warnings have nowhere to go either.
setErrorHandler((error: Error) => {
  void Promise.reject(error);
});
setWarningHandler(() => {});
// event-target-shim gives EventTarget.prototype no Symbol.toStringTag.
tag(EventTarget, "EventTarget");

function domException(message: string, name: string): Error {
  const { DOMException } = platform.require("domexception") as typeof DomException;
  return new DOMException(message, name);
}

const stamps = new WeakMap<object, number>();

/**
 * Event: event-target-shim's, but its type argument is required and its
 * timeStamp is the host clock's (ms since the run started, as
 * performance.now()), as in Node and browsers, not Date.now().
 */
export class Event extends ShimEvent {
  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean }) {
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    super(type, init);
    stamps.set(this, platform.host.now());
  }
}
// Node has every Event member own on Event.prototype; copy the shim's (the chain keeps the shim's
// prototype, which its EventTarget checks events against).
for (const key of Object.getOwnPropertyNames(ShimEvent.prototype)) {
  if (key === "constructor") continue;
  const descriptor = Object.getOwnPropertyDescriptor(ShimEvent.prototype, key);
  if (descriptor) Object.defineProperty(Event.prototype, key, descriptor);
}
const shimTimeStamp = Object.getOwnPropertyDescriptor(ShimEvent.prototype, "timeStamp")?.get;
Object.defineProperty(Event.prototype, "timeStamp", {
  get(this: object) {
    const stamp = stamps.get(this);
    return stamp !== undefined ? stamp : shimTimeStamp?.call(this);
  },
  enumerable: true,
  configurable: true,
});
tag(Event, "Event");

/** CustomEvent: an Event with a `detail`. */
export class CustomEvent<T = unknown> extends Event {
  readonly #detail: T | null;

  constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean; detail?: T }) {
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    super(type, init);
    this.#detail = init?.detail ?? null;
  }

  get detail(): T | null {
    return this.#detail;
  }
}
tag(CustomEvent, "CustomEvent");

const ILLEGAL = Symbol("AbortSignal");

interface SignalState {
  aborted: boolean;
  reason: unknown;
  /** Internal steps run on abort before the event (dependent signals). */
  algorithms: Set<() => void>;
}

const signals = new WeakMap<object, SignalState>();

function signalState(self: unknown): SignalState {
  const found = typeof self === "object" && self !== null ? signals.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

function abortSignal(signal: AbortSignal, reason: unknown): void {
  const state = signalState(signal);
  if (state.aborted) return;
  state.aborted = true;
  state.reason = reason === undefined ? domException("This operation was aborted", "AbortError") : reason;
  const algorithms = [...state.algorithms];
  state.algorithms.clear();
  for (const algorithm of algorithms) algorithm();
  signal.dispatchEvent(new Event("abort"));
}

/** AbortSignal: not constructible; made by AbortController, `AbortSignal.abort()` and `AbortSignal.any()`. */
export class AbortSignal extends EventTarget {
  constructor(token?: unknown) {
    if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
    super();
    signals.set(this, { aborted: false, reason: undefined, algorithms: new Set() });
  }

  get aborted(): boolean {
    return signalState(this).aborted;
  }

  get reason(): unknown {
    return signalState(this).reason;
  }

  get onabort(): unknown {
    signalState(this);
    return getEventAttributeValue(this as never, "abort");
  }

  set onabort(value: unknown) {
    signalState(this);
    setEventAttributeValue(this as never, "abort", value as never);
  }

  throwIfAborted(): void {
    const state = signalState(this);
    if (state.aborted) throw state.reason;
  }

  /** A signal already aborted with `reason` (default: an AbortError DOMException). */
  static abort(reason?: unknown): AbortSignal {
    const signal = new AbortSignal(ILLEGAL);
    const state = signalState(signal);
    state.aborted = true;
    state.reason = reason === undefined ? domException("This operation was aborted", "AbortError") : reason;
    return signal;
  }

  /**
   * A signal that aborts with a TimeoutError after `ms` milliseconds. Timers
   * are not part of this layer: it uses the `setTimeout` global present at
   * the call, and throws NotSupportedError when there is none.
   */
  static timeout(ms: unknown): AbortSignal {
    const delay = Number(ms);
    if (!Number.isFinite(delay) || delay < 0 || delay > Number.MAX_SAFE_INTEGER) {
      throw new TypeError(`The "delay" argument must be a non-negative finite number (received ${String(ms)})`);
    }
    const setTimer = (globalThis as { setTimeout?: unknown }).setTimeout;
    if (typeof setTimer !== "function") {
      throw domException("AbortSignal.timeout needs a setTimeout, and this context has none", "NotSupportedError");
    }
    const signal = new AbortSignal(ILLEGAL);
    setTimer(
      () => abortSignal(signal, domException("The operation was aborted due to timeout", "TimeoutError")),
      Math.trunc(delay),
    );
    return signal;
  }

  /** A signal that aborts when the first of `signals` does, with its reason. */
  static any(sources: Iterable<AbortSignal>): AbortSignal {
    const list = [...sources];
    for (const source of list) signalState(source);
    const signal = new AbortSignal(ILLEGAL);
    const aborted = list.find((source) => source.aborted);
    if (aborted) {
      const state = signalState(signal);
      state.aborted = true;
      state.reason = aborted.reason;
      return signal;
    }
    // The sources hold the dependent signal until they abort.
    for (const source of list) signalState(source).algorithms.add(() => abortSignal(signal, source.reason));
    return signal;
  }
}
tag(AbortSignal, "AbortSignal");

/** AbortController: owns one AbortSignal and aborts it. */
export class AbortController {
  readonly #signal = new AbortSignal(ILLEGAL);

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    abortSignal(this.#signal, reason);
  }
}
tag(AbortController, "AbortController");

for (const target of [AbortSignal, AbortController, CustomEvent]) {
  for (const key of Object.getOwnPropertyNames(target.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
    if (descriptor) Object.defineProperty(target.prototype, key, { ...descriptor, enumerable: true });
  }
}

export { EventTarget };
