/**
 * Human units for durations and sizes.
 *
 * Sizes follow the SI/IEC rule so that every spelling means one thing:
 * `KB`, `MB`, `GB`, `TB` are powers of 1000 (10^3, 10^6, 10^9, 10^12) and
 * `KiB`, `MiB`, `GiB`, `TiB` are powers of 1024. Units are case-insensitive
 * (`mb` is `MB`). A bare number is bytes.
 *
 * Durations accept `ms`, `s`, `sec`, `min`, `h`; a bare number is milliseconds.
 */

/** Bytes per size unit, lower-cased. */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Milliseconds per duration unit, lower-cased. */
export const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  min: 60_000,
  h: 3_600_000,
};

/** Why a unit string could not be read; the caller adds where it came from. */
export class UnitParseError extends Error {
  /** What the value should have looked like, e.g. `a duration such as 50ms, 2s or 5min`. */
  readonly expected: string;
  constructor(reason: string, expected: string) {
    super(reason);
    this.name = "UnitParseError";
    this.expected = expected;
  }
}

const NUMBER_WITH_UNIT = /^([+-]?(?:\d[\d_]*)?(?:\.\d+)?(?:e[+-]?\d+)?)\s*([a-z]*)$/i;

/** Expected forms, quoted in error messages. */
export const EXPECTED_DURATION = "a duration such as 50ms, 2s or 5min (a bare number is milliseconds)";
export const EXPECTED_SIZE = "a size such as 128MB, 64MiB or 1GiB (a bare number is bytes; MB = 10^6, MiB = 2^20)";

function parseWithUnits(
  raw: string | number,
  units: Readonly<Record<string, number>>,
  defaultUnit: string,
  expected: string,
): number {
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) throw new UnitParseError(`${raw} is not a finite number`, expected);
    return raw;
  }
  const text = raw.trim();
  const match = NUMBER_WITH_UNIT.exec(text);
  if (text === "" || !match || match[1] === "" || match[1] === "+" || match[1] === "-") {
    throw new UnitParseError(`cannot read ${JSON.stringify(raw)}`, expected);
  }
  const numberText = match[1]!.replaceAll("_", "");
  const unitText = (match[2] ?? "").toLowerCase() || defaultUnit;
  const factor = units[unitText];
  if (factor === undefined) {
    throw new UnitParseError(`unknown unit ${JSON.stringify(match[2])} in ${JSON.stringify(raw)}`, expected);
  }
  const value = Number(numberText);
  if (!Number.isFinite(value)) throw new UnitParseError(`cannot read ${JSON.stringify(raw)}`, expected);
  // Round away binary noise such as 1.1 * 1000 = 1100.0000000000002.
  const scaled = value * factor;
  const rounded = Math.round(scaled);
  return Math.abs(scaled - rounded) < 1e-6 ? rounded : scaled;
}

/** Reads a duration in milliseconds; the result may be fractional or negative, the caller validates. */
export function parseDuration(raw: string | number): number {
  return parseWithUnits(raw, DURATION_UNITS, "ms", EXPECTED_DURATION);
}

/** Reads a size in bytes; the result may be fractional or negative, the caller validates. */
export function parseSize(raw: string | number): number {
  return parseWithUnits(raw, SIZE_UNITS, "b", EXPECTED_SIZE);
}

const SIZE_FORMATS: readonly [string, number][] = [
  ["TB", 1e12],
  ["GB", 1e9],
  ["MB", 1e6],
  ["KB", 1e3],
  ["TiB", 2 ** 40],
  ["GiB", 2 ** 30],
  ["MiB", 2 ** 20],
  ["KiB", 2 ** 10],
];

/** Formats bytes in the largest unit that divides them exactly: 1e9 -> `1GB`, 2^27 -> `128MiB`, 1500 -> `1500B`... */
export function formatSize(bytes: number): string {
  if (bytes > 0) {
    for (const [unit, factor] of SIZE_FORMATS) {
      if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
    }
  }
  return `${bytes}B`;
}

/**
 * Formats a measured size for people to read, rounded to three significant
 * digits in powers of 1000: `212B`, `1.67MB`, `45.2KB` (limit values use the
 * exact {@link formatSize}).
 */
export function formatSizeApprox(bytes: number): string {
  if (!(bytes >= 1000)) return `${bytes}B`;
  const units: [string, number][] = [
    ["GB", 1e9],
    ["MB", 1e6],
    ["KB", 1e3],
  ];
  const [unit, factor] = units.find(([, f]) => bytes >= f)!;
  return `${Number((bytes / factor).toPrecision(3))}${unit}`;
}

/** Formats milliseconds the way limit messages do: `50ms`, `30000ms`. */
export function formatDuration(ms: number): string {
  return `${ms}ms`;
}
