import { TraceMap, decodedMappings } from "@jridgewell/trace-mapping";
import type { SourceMap } from "magic-string";

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // The same line terminators as the engines and the source map count.
    if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  return starts;
}

/** Index of the first element of a sorted array that is >= value. */
function lowerBound(sorted: Int32Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Maps ranges of instrumented code back to the guest's own text, so that
 * `Function.prototype.toString` shows a function exactly as the guest wrote it.
 * Built from the instrumenter's character-level source map (one segment per
 * original character; inserted text has none) and the ranges it replaced.
 * The index is built on first use: most runs never ask.
 */
export class ReverseMap {
  private index: { generated: Int32Array; original: Int32Array } | undefined;

  constructor(
    private readonly source: string,
    private readonly code: string,
    private readonly map: SourceMap,
    private readonly replaced: ReadonlyMap<number, number>,
  ) {}

  private build(): { generated: Int32Array; original: Int32Array } {
    const codeLines = lineStarts(this.code);
    const sourceLines = lineStarts(this.source);
    const lines = decodedMappings(new TraceMap(this.map.toString() as never));
    let count = 0;
    for (const line of lines) count += line.length;
    const generated = new Int32Array(count);
    const original = new Int32Array(count);
    let n = 0;
    lines.forEach((segments, line) => {
      for (const segment of segments) {
        if (segment.length < 4) continue;
        generated[n] = codeLines[line]! + segment[0];
        original[n] = sourceLines[segment[2]!]! + segment[3]!;
        n++;
      }
    });
    return { generated: generated.subarray(0, n), original: original.subarray(0, n) };
  }

  /**
   * The guest's original text for `text`, a piece of the instrumented code
   * (such as a function's source as the engine reports it); `undefined` when
   * `text` is not part of this code.
   */
  original(text: string): string | undefined {
    const at = this.code.indexOf(text);
    if (at < 0 || text.length === 0) return undefined;
    this.index ??= this.build();
    const { generated, original } = this.index;
    const first = lowerBound(generated, at);
    const last = lowerBound(generated, at + text.length) - 1;
    if (first > last || first >= generated.length) return undefined;
    const start = original[first]!;
    const lastChar = original[last]!;
    const end = this.replaced.get(lastChar) ?? lastChar + 1;
    return this.source.slice(start, end);
  }
}
