/**
 * Group `encoding`: TextEncoder, TextDecoder, atob, btoa. Hand-written: the
 * npm TextDecoder polyfills either carry every legacy encoding's tables
 * (hundreds of KB to compile per context on QuickJS) or lack `fatal`/streaming.
 * Decoders follow the WHATWG Encoding Standard for UTF-8, UTF-16LE/BE and
 * windows-1252 (the encoding the labels "latin1", "ascii", "iso-8859-1" name).
 */
import type * as DomException from "./dom-exception.js";
import { platform, tag } from "./runtime.js";

function domException(message: string, name: string): Error {
  const { DOMException } = platform.require("domexception") as typeof DomException;
  return new DOMException(message, name);
}

/** Bytes of a BufferSource, as a Uint8Array view (no copy). */
export function bytesOf(input: unknown, what = "input"): Uint8Array {
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (typeof SharedArrayBuffer === "function" && input instanceof SharedArrayBuffer) return new Uint8Array(input);
  throw new TypeError(`The "${what}" argument must be an instance of ArrayBuffer or ArrayBufferView`);
}

/** UTF-8 encoding of a string (lone surrogates become U+FFFD, as USVString conversion does). */
export function utf8Encode(input: string): Uint8Array {
  const length = input.length;
  // Fast path: ASCII only.
  let ascii = true;
  for (let i = 0; i < length; i++) {
    if (input.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = input.charCodeAt(i);
    return out;
  }
  const out = new Uint8Array(length * 3);
  const written = encodeInto(input, out).written;
  return out.slice(0, written);
}

function encodeInto(input: string, out: Uint8Array): { read: number; written: number } {
  const length = input.length;
  const capacity = out.length;
  let read = 0;
  let written = 0;
  while (read < length) {
    let code = input.charCodeAt(read);
    let units = 1;
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = read + 1 < length ? input.charCodeAt(read + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else code = 0xfffd;
    }
    if (code < 0x80) {
      if (written + 1 > capacity) break;
      out[written++] = code;
    } else if (code < 0x800) {
      if (written + 2 > capacity) break;
      out[written++] = 0xc0 | (code >> 6);
      out[written++] = 0x80 | (code & 0x3f);
    } else if (code < 0x10000) {
      if (written + 3 > capacity) break;
      out[written++] = 0xe0 | (code >> 12);
      out[written++] = 0x80 | ((code >> 6) & 0x3f);
      out[written++] = 0x80 | (code & 0x3f);
    } else {
      if (written + 4 > capacity) break;
      out[written++] = 0xf0 | (code >> 18);
      out[written++] = 0x80 | ((code >> 12) & 0x3f);
      out[written++] = 0x80 | ((code >> 6) & 0x3f);
      out[written++] = 0x80 | (code & 0x3f);
    }
    read += units;
  }
  return { read, written };
}

/** Code units to a string, in chunks (fromCharCode.apply has an argument limit), joined once. */
function fromCodes(codes: Uint8Array | Uint16Array | number[], length: number): string {
  const CHUNK = 8192;
  if (length <= CHUNK)
    return String.fromCharCode.apply(null, (codes.length === length ? codes : codes.slice(0, length)) as number[]);
  const parts: string[] = [];
  for (let i = 0; i < length; i += CHUNK) {
    parts.push(String.fromCharCode.apply(null, codes.slice(i, Math.min(length, i + CHUNK)) as number[]));
  }
  return parts.join("");
}

const HEX_DIGITS: string[] = [];
for (let i = 0; i < 256; i++) HEX_DIGITS.push((i < 16 ? "0" : "") + i.toString(16));

/** Lowercase hex of bytes: the host's byte format (see PlatformHost). */
export function toHex(bytes: Uint8Array): string {
  const CHUNK = 8192;
  let result = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const end = Math.min(bytes.length, i + CHUNK);
    const digits: string[] = [];
    for (let j = i; j < end; j++) digits.push(HEX_DIGITS[bytes[j] as number] as string);
    result += digits.join("");
  }
  return result;
}

/** Bytes of a hex string (from the host). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A binary string (one char per byte, as atob returns) of bytes. */
export function toBinary(bytes: Uint8Array): string {
  return fromCodes(bytes, bytes.length);
}

/** Bytes of a binary string. */
export function fromBinary(binary: string): Uint8Array {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i) & 0xff;
  return out;
}

/** A streaming decoder of one encoding: bytes in, string out; `flush` ends the stream. */
interface Decoder {
  decode(bytes: Uint8Array, flush: boolean): string;
}

/** WHATWG UTF-8 decoder (maximal subpart replacement); throws a TypeError when fatal. */
class Utf8Decoder implements Decoder {
  private needed = 0;
  private seen = 0;
  private point = 0;
  private lower = 0x80;
  private upper = 0xbf;

  constructor(private readonly fatal: boolean) {}

  private error(): number {
    if (this.fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
    return 0xfffd;
  }

  decode(bytes: Uint8Array, flush: boolean): string {
    const length = bytes.length;
    // At most one code unit a byte, plus a pending sequence completed at the start and a flush error.
    const out = new Uint16Array(length + 4);
    let n = 0;
    let i = 0;
    while (i < length) {
      const byte = bytes[i] as number;
      if (this.needed === 0) {
        i++;
        if (byte <= 0x7f) {
          out[n++] = byte;
          continue;
        }
        if (byte >= 0xc2 && byte <= 0xdf) {
          this.needed = 1;
          this.point = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.lower = 0xa0;
          if (byte === 0xed) this.upper = 0x9f;
          this.needed = 2;
          this.point = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.lower = 0x90;
          if (byte === 0xf4) this.upper = 0x8f;
          this.needed = 3;
          this.point = byte & 0x7;
        } else out[n++] = this.error();
        continue;
      }
      if (byte < this.lower || byte > this.upper) {
        // The byte starts over: do not consume it.
        this.point = this.needed = this.seen = 0;
        this.lower = 0x80;
        this.upper = 0xbf;
        out[n++] = this.error();
        continue;
      }
      i++;
      this.lower = 0x80;
      this.upper = 0xbf;
      this.point = (this.point << 6) | (byte & 0x3f);
      if (++this.seen === this.needed) {
        const code = this.point;
        if (code > 0xffff) {
          out[n++] = 0xd800 + ((code - 0x10000) >> 10);
          out[n++] = 0xdc00 + ((code - 0x10000) & 0x3ff);
        } else out[n++] = code;
        this.point = this.needed = this.seen = 0;
      }
    }
    if (flush && this.needed !== 0) {
      this.point = this.needed = this.seen = 0;
      this.lower = 0x80;
      this.upper = 0xbf;
      out[n++] = this.error();
    }
    return fromCodes(out, n);
  }
}

/** UTF-16 decoder (either byte order); lone surrogates become U+FFFD or throw when fatal. */
class Utf16Decoder implements Decoder {
  private pendingByte = -1;
  private pendingLead = -1;

  constructor(
    private readonly bigEndian: boolean,
    private readonly fatal: boolean,
  ) {}

  private error(): number {
    if (this.fatal)
      throw new TypeError(`The encoded data was not valid for encoding utf-16${this.bigEndian ? "be" : "le"}`);
    return 0xfffd;
  }

  decode(bytes: Uint8Array, flush: boolean): string {
    const codes: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      if (this.pendingByte < 0) {
        this.pendingByte = byte;
        continue;
      }
      const unit = this.bigEndian ? (this.pendingByte << 8) | byte : (byte << 8) | this.pendingByte;
      this.pendingByte = -1;
      if (this.pendingLead >= 0) {
        const lead = this.pendingLead;
        this.pendingLead = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          codes.push(lead, unit);
          continue;
        }
        codes.push(this.error());
      }
      if (unit >= 0xd800 && unit <= 0xdbff) this.pendingLead = unit;
      else if (unit >= 0xdc00 && unit <= 0xdfff) codes.push(this.error());
      else codes.push(unit);
    }
    if (flush && (this.pendingByte >= 0 || this.pendingLead >= 0)) {
      this.pendingByte = this.pendingLead = -1;
      codes.push(this.error());
    }
    return fromCodes(codes, codes.length);
  }
}

/** windows-1252 bytes 0x80..0x9F (the rest map to themselves). */
const WINDOWS_1252 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

class Windows1252Decoder implements Decoder {
  decode(bytes: Uint8Array): string {
    const codes = new Uint16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      codes[i] = byte >= 0x80 && byte <= 0x9f ? (WINDOWS_1252[byte - 0x80] as number) : byte;
    }
    return fromCodes(codes, codes.length);
  }
}

const LABELS: Record<string, string> = {};
for (const [encoding, labels] of [
  ["utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"],
  ["utf-16le", "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le"],
  ["utf-16be", "unicodefffe utf-16be"],
  [
    "windows-1252",
    "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
  ],
] as const) {
  for (const label of labels.split(" ")) LABELS[label] = encoding;
}

function newDecoder(encoding: string, fatal: boolean): Decoder {
  if (encoding === "utf-8") return new Utf8Decoder(fatal);
  if (encoding === "utf-16le" || encoding === "utf-16be") return new Utf16Decoder(encoding === "utf-16be", fatal);
  return new Windows1252Decoder();
}

const BOMS: Record<string, number[]> = {
  "utf-8": [0xef, 0xbb, 0xbf],
  "utf-16le": [0xff, 0xfe],
  "utf-16be": [0xfe, 0xff],
};

interface DecoderState {
  encoding: string;
  fatal: boolean;
  ignoreBOM: boolean;
  decoder: Decoder | undefined;
  /** Leading bytes held back while the BOM is undecided. */
  head: number[] | undefined;
  /** Whether this stream's BOM (or its absence) is settled. */
  bomDone: boolean;
}

const decoders = new WeakMap<object, DecoderState>();

function decoderState(self: unknown): DecoderState {
  const found = typeof self === "object" && self !== null ? decoders.get(self) : undefined;
  if (!found) throw new TypeError("Illegal invocation");
  return found;
}

function concat(a: ArrayLike<number>, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a as ArrayLike<number>);
  out.set(b, a.length);
  return out;
}

/** TextDecoder: utf-8, utf-16le, utf-16be, windows-1252 (and all their WHATWG labels). */
export class TextDecoder {
  constructor(label: unknown = "utf-8", options: unknown = {}) {
    const key = String(label)
      .replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "")
      .toLowerCase();
    const encoding = LABELS[key];
    if (encoding === undefined) throw new RangeError(`The "${String(label)}" encoding is not supported`);
    const o = (options ?? {}) as { fatal?: unknown; ignoreBOM?: unknown };
    decoders.set(this, {
      encoding,
      fatal: Boolean(o.fatal),
      ignoreBOM: Boolean(o.ignoreBOM),
      decoder: undefined,
      head: undefined,
      bomDone: false,
    });
  }

  get encoding(): string {
    return decoderState(this).encoding;
  }

  get fatal(): boolean {
    return decoderState(this).fatal;
  }

  get ignoreBOM(): boolean {
    return decoderState(this).ignoreBOM;
  }

  decode(input?: unknown, options: unknown = {}): string {
    const state = decoderState(this);
    let bytes = input === undefined ? new Uint8Array(0) : bytesOf(input);
    const stream = Boolean((options as { stream?: unknown } | null)?.stream);
    if (!state.decoder) state.decoder = newDecoder(state.encoding, state.fatal);
    const bom = BOMS[state.encoding];
    if (!state.ignoreBOM && bom && !state.bomDone) {
      // Until enough bytes arrived to rule a BOM in or out, hold them back.
      const head = state.head ? concat(state.head, bytes) : bytes;
      if (head.length < bom.length && stream && bom.slice(0, head.length).every((b, i) => head[i] === b)) {
        state.head = Array.from(head);
        return "";
      }
      bytes = bom.every((b, i) => head[i] === b) ? head.subarray(bom.length) : head;
      state.head = undefined;
      state.bomDone = true;
    }
    let result: string;
    try {
      result = state.decoder.decode(bytes, !stream);
    } catch (error) {
      state.decoder = undefined;
      state.head = undefined;
      state.bomDone = false;
      throw error;
    }
    if (!stream) {
      state.decoder = undefined;
      state.head = undefined;
      state.bomDone = false;
    }
    return result;
  }
}

/** TextEncoder: always UTF-8. */
export class TextEncoder {
  get encoding(): string {
    if (!(this instanceof TextEncoder)) throw new TypeError("Illegal invocation");
    return "utf-8";
  }

  encode(input: unknown = ""): Uint8Array {
    return utf8Encode(String(input));
  }

  encodeInto(source: unknown, destination: unknown): { read: number; written: number } {
    if (!(destination instanceof Uint8Array)) {
      throw new TypeError('The "dest" argument must be an instance of Uint8Array.');
    }
    return encodeInto(String(source), destination);
  }
}

for (const [target, name] of [
  [TextEncoder, "TextEncoder"],
  [TextDecoder, "TextDecoder"],
] as const) {
  tag(target, name);
  for (const key of Object.getOwnPropertyNames(target.prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, key);
    if (descriptor) Object.defineProperty(target.prototype, key, { ...descriptor, enumerable: true });
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALPHABET_CODES = new Uint8Array(64);
const ALPHABET_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  ALPHABET_CODES[i] = ALPHABET.charCodeAt(i);
  ALPHABET_VALUES[ALPHABET.charCodeAt(i)] = i;
}

/** btoa: a binary string to base64; throws InvalidCharacterError for code points above U+00FF. */
export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new TypeError('The "data" argument must be specified');
  const input = String(data);
  const length = input.length;
  const out = new Uint8Array(Math.ceil(length / 3) * 4);
  let o = 0;
  for (let i = 0; i < length; i += 3) {
    const a = input.charCodeAt(i);
    const b = i + 1 < length ? input.charCodeAt(i + 1) : 0;
    const c = i + 2 < length ? input.charCodeAt(i + 2) : 0;
    if ((a | b | c) > 0xff) throw domException("Invalid character", "InvalidCharacterError");
    const triple = (a << 16) | (b << 8) | c;
    out[o++] = ALPHABET_CODES[triple >> 18] as number;
    out[o++] = ALPHABET_CODES[(triple >> 12) & 63] as number;
    out[o++] = i + 1 < length ? (ALPHABET_CODES[(triple >> 6) & 63] as number) : 61;
    out[o++] = i + 2 < length ? (ALPHABET_CODES[triple & 63] as number) : 61;
  }
  return fromCodes(out, o);
}

/** atob: forgiving-base64 decode to a binary string; throws InvalidCharacterError on bad input. */
export function atob(data: unknown): string {
  if (arguments.length === 0) throw new TypeError('The "data" argument must be specified');
  let input = String(data);
  if (/[\t\n\f\r ]/.test(input)) input = input.replace(/[\t\n\f\r ]/g, "");
  if (input.length % 4 === 0) input = input.replace(/==?$/, "");
  if (input.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(input)) {
    throw domException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  }
  const length = input.length;
  const out = new Uint8Array((length * 3) >> 2);
  let o = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < length; i++) {
    buffer = ((buffer << 6) | (ALPHABET_VALUES[input.charCodeAt(i)] as number)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  return fromCodes(out, o);
}
