/**
 * Group `streams`: the WHATWG Streams classes from web-streams-polyfill
 * (its ES2018 ponyfill, which defines no globals itself), plus
 * TextEncoderStream and TextDecoderStream written on its TransformStream.
 */
import { TransformStream } from "web-streams-polyfill";
import type * as Encoding from "./encoding.js";
import { platform, tag } from "./runtime.js";

function encoding(): typeof Encoding {
  return platform.require("encoding") as typeof Encoding;
}

/** TextEncoderStream: strings in, UTF-8 Uint8Array chunks out (a surrogate pair split across chunks is kept whole). */
export class TextEncoderStream {
  readonly #transform: TransformStream<unknown, Uint8Array>;

  constructor() {
    let pending = "";
    const { utf8Encode } = encoding();
    this.#transform = new TransformStream<unknown, Uint8Array>({
      transform(chunk, controller) {
        let text = pending + String(chunk);
        pending = "";
        const last = text.charCodeAt(text.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pending = text.slice(-1);
          text = text.slice(0, -1);
        }
        if (text.length > 0) controller.enqueue(utf8Encode(text));
      },
      flush(controller) {
        if (pending) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
      },
    });
  }

  get encoding(): string {
    return "utf-8";
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#transform.readable as unknown as ReadableStream<Uint8Array>;
  }

  get writable(): WritableStream<unknown> {
    return this.#transform.writable as unknown as WritableStream<unknown>;
  }
}
tag(TextEncoderStream, "TextEncoderStream");

/** TextDecoderStream: BufferSource chunks in, strings out, decoded with TextDecoder's `stream: true`. */
export class TextDecoderStream {
  readonly #transform: TransformStream<unknown, string>;
  readonly #decoder: Encoding.TextDecoder;

  constructor(label: unknown = "utf-8", options: unknown = {}) {
    const decoder = new (encoding().TextDecoder)(label, options);
    this.#decoder = decoder;
    this.#transform = new TransformStream<unknown, string>({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true });
        if (text) controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text) controller.enqueue(text);
      },
    });
  }

  get encoding(): string {
    return this.#decoder.encoding;
  }

  get fatal(): boolean {
    return this.#decoder.fatal;
  }

  get ignoreBOM(): boolean {
    return this.#decoder.ignoreBOM;
  }

  get readable(): ReadableStream<string> {
    return this.#transform.readable as unknown as ReadableStream<string>;
  }

  get writable(): WritableStream<unknown> {
    return this.#transform.writable as unknown as WritableStream<unknown>;
  }
}
tag(TextDecoderStream, "TextDecoderStream");

export {
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
  TransformStream,
  TransformStreamDefaultController,
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from "web-streams-polyfill";
