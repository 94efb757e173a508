/** Stands in for whatwg-url's lib/encoding.js, which expects TextEncoder/TextDecoder globals. */
import type * as Encoding from "../encoding.js";
import { platform } from "../runtime.js";

function encoding(): typeof Encoding {
  return platform.require("encoding") as typeof Encoding;
}

let decoder: Encoding.TextDecoder | undefined;

/** UTF-8 bytes of a string. */
export function utf8Encode(string: string): Uint8Array {
  return encoding().utf8Encode(string);
}

/** UTF-8 decoding that keeps a leading BOM. */
export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  decoder ??= new (encoding().TextDecoder)("utf-8", { ignoreBOM: true });
  return decoder.decode(bytes);
}
