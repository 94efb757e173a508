/** Stands in for whatwg-url's lib/encoding.js, which expects TextEncoder/TextDecoder globals. */
import type * as Encoding from "../encoding.js";
import { platform } from "../runtime.js";

function encoding(): typeof Encoding {
  return platform.require("encoding") as typeof Encoding;
}

let decoder: Encoding.TextDecoder | undefined;

/** UTF-8 bytes of a string. whatwg-url calls this for every code point it percent-encodes, mostly ASCII. */
export function utf8Encode(string: string): Uint8Array {
  const bytes = new Uint8Array(string.length);
  for (let i = 0; i < string.length; i++) {
    const code = string.charCodeAt(i);
    if (code >= 0x80) return encoding().utf8Encode(string);
    bytes[i] = code;
  }
  return bytes;
}

/** UTF-8 decoding that keeps a leading BOM (ASCII-only input needs no decoder, nor the encoding group). */
export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  let ascii = "";
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte >= 0x80) {
      decoder ??= new (encoding().TextDecoder)("utf-8", { ignoreBOM: true });
      return decoder.decode(bytes);
    }
    ascii += String.fromCharCode(byte);
  }
  return ascii;
}
