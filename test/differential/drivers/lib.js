// Helpers shared by the corpus drivers, bundled into each of them. A driver's
// result must be plain JSON data, identical wherever the same script runs.

/** FNV-1a over UTF-16 code units, as 8 hex digits. */
export function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** A short text as it is; a long one as its length, hash, head and tail. */
export function digest(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined || text.length <= 300) return value;
  return { length: text.length, hash: hash(text), head: text.slice(0, 120), tail: text.slice(-60) };
}

/** An error as `Name: message` (or what was thrown, if not an error). */
export function describeError(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown ${typeof error}: ${String(error)}`;
}

/** Runs `fn`, recording its digested result or the error it threw. */
export function attempt(fn) {
  try {
    return { ok: digest(fn()) };
  } catch (error) {
    return { threw: describeError(error) };
  }
}

/** As {@link attempt}, awaiting the result. */
export async function attemptAsync(fn) {
  try {
    return { ok: digest(await fn()) };
  } catch (error) {
    return { threw: describeError(error) };
  }
}

/** Counts of each value of `key(item)` over `items`, sorted by key. */
export function histogram(items, key) {
  const counts = {};
  for (const item of items) {
    const k = key(item);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every `yyyy-mm-dd` date in a text, in order of appearance, without repeats. */
export function isoDates(text, limit = Infinity) {
  const seen = new Set();
  for (const match of text.matchAll(/\b(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b/g)) {
    seen.add(match[0]);
    if (seen.size >= limit) break;
  }
  return [...seen];
}

/** The bodies of fenced code blocks of a language in a Markdown text. */
export function codeBlocks(text, languages) {
  const blocks = [];
  for (const match of text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
    if (languages.includes(match[1])) blocks.push(match[2]);
  }
  return blocks;
}
