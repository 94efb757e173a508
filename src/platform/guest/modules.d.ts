// Types of the npm modules the guest groups bundle that ship none.

declare module "tr46/index.js" {
  export function toASCII(domain: string, options: object): string | null;
  export function toUnicode(domain: string, options: object): { domain: string; error: boolean };
}

// event-target-shim has types, but its package.json "exports" hides them from NodeNext resolution.
declare module "event-target-shim" {
  export const Event: typeof globalThis.Event;
  export type Event = globalThis.Event;
  export const EventTarget: typeof globalThis.EventTarget;
  export type EventTarget = globalThis.EventTarget;
  export function getEventAttributeValue(target: EventTarget, type: string): unknown;
  export function setEventAttributeValue(target: EventTarget, type: string, value: unknown): void;
  export function setErrorHandler(handler: ((error: Error) => void) | undefined): void;
  export function setWarningHandler(handler: ((warning: unknown) => void) | undefined): void;
}
