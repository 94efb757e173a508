import { EngineError, LimitExceededError, type WardenError } from "../errors/index.js";
import type { EngineRunOutcome, Usage } from "../engine/index.js";

/** Result of one run or call: a value or a typed error, with what it used. */
export type RunResult = { ok: true; value: unknown; usage: Usage } | { ok: false; error: WardenError; usage: Usage };

/** Encodes an input as JSON and checks it against the value-size limit, before it is copied anywhere. */
export function encodeInput(input: unknown, maxValueBytes: number): string | undefined {
  if (input === undefined) return undefined;
  const json = JSON.stringify(input);
  if (json === undefined) return undefined;
  const bytes = Buffer.byteLength(json);
  if (maxValueBytes > 0 && bytes > maxValueBytes) {
    throw new LimitExceededError({ kind: "value_size", limit: maxValueBytes, observed: bytes });
  }
  return json;
}

/** An engine's outcome as a result: the JSON text parsed into a value. */
export function parseOutcome(outcome: EngineRunOutcome): RunResult {
  if (!outcome.ok) return outcome;
  try {
    return { ok: true, value: outcome.json === "" ? undefined : JSON.parse(outcome.json), usage: outcome.usage };
  } catch (error) {
    return {
      ok: false,
      error: new EngineError("the sandbox returned a malformed result", { cause: error }),
      usage: outcome.usage,
    };
  }
}

/**
 * Reads a request's or response's body, counting bytes as they stream in: past `maxValueBytes` (when
 * positive) it stops reading and throws the value-size error, so an oversized body is never
 * held whole.
 */
export async function readBodyCapped(
  message: { body: ReadableStream<Uint8Array> | null },
  maxValueBytes: number,
): Promise<Buffer> {
  if (!message.body) return Buffer.alloc(0);
  const reader = message.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (maxValueBytes > 0 && total > maxValueBytes) {
        throw new LimitExceededError({ kind: "value_size", limit: maxValueBytes, observed: total });
      }
      chunks.push(value);
    }
  } finally {
    if (total > maxValueBytes && maxValueBytes > 0) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}
