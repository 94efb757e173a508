import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  answerHeaderList,
  rawHeaderList,
  requestMethod,
  responseStatus,
  responseStatusText,
} from "../../src/runtime/fetch-data.js";

/** What the host's own `Headers` makes of the pairs: its list, or the error it throws. */
function viaHeaders(pairs: [string, string][], skipRefused: boolean): [string, string][] | Error {
  const headers = new Headers();
  for (const [name, value] of pairs) {
    try {
      headers.append(name, value);
    } catch (error) {
      if (!skipRefused) return error as Error;
    }
  }
  return [...headers];
}

const CASES: [string, string][][] = [
  [["Content-Type", "text/plain"]],
  [
    ["B", "1"],
    ["a", "x"],
    ["b", "2"],
    ["Set-Cookie", "s=1"],
    ["c", "y"],
    ["set-cookie", "t=2"],
  ],
  [["x", "  padded\t "]],
  [["x", "\r\n"]],
  [["x", ""]],
  [["x", "obs-text \x80\xff and \x7f\x01"]],
  [["__proto__", "v"]],
  [["bad name", "v"]],
  [["", "v"]],
  [["é", "v"]],
  [["x", "a\0b"]],
  [["x", "a\nb"]],
  [["x", "a\u0100"]],
  [
    ["ok", "1"],
    ["x", "a\rb"],
    ["ok", "2"],
  ],
];

describe("fetch data: the Fetch API's rules without its classes", () => {
  test("header lists as Headers gives them; refused pairs left out (requests) or thrown (answers)", () => {
    for (const pairs of CASES) {
      const skipped = viaHeaders(pairs, true);
      assert.deepEqual(rawHeaderList(pairs.flat()), skipped, JSON.stringify(pairs));
      const strict = viaHeaders(pairs, false);
      if (strict instanceof Error) {
        assert.throws(() => answerHeaderList(pairs, new Set()), TypeError, JSON.stringify(pairs));
      } else {
        assert.deepEqual(answerHeaderList(pairs, new Set()), strict, JSON.stringify(pairs));
      }
    }
    assert.deepEqual(
      answerHeaderList(
        [
          ["Content-Length", "5"],
          ["x", "1"],
          ["connection", "close"],
        ],
        new Set(["content-length", "connection"]),
      ),
      [["x", "1"]],
    );
  });

  test("statuses, status texts and methods as Response and Request take them", () => {
    for (const status of [199, 200, 204, 299.9, 404, 599, 600, 101, -1, 65736, "201", Number.NaN, null]) {
      let expected: number | undefined;
      try {
        expected = new Response(null, { status: status as number }).status;
      } catch {
        expected = undefined;
      }
      if (expected === undefined) assert.throws(() => responseStatus(status), RangeError, String(status));
      else assert.equal(responseStatus(status), expected, String(status));
    }
    for (const text of ["OK", "", "a\tb", "é", "a\nb", "\x7f", "\u0100", undefined]) {
      let expected: string | undefined;
      try {
        expected = new Response(null, text === undefined ? {} : { statusText: text }).statusText;
      } catch {
        expected = undefined;
      }
      if (expected === undefined) assert.throws(() => responseStatusText(text), TypeError, JSON.stringify(text));
      else assert.equal(responseStatusText(text), expected, JSON.stringify(text));
    }
    for (const [method, body] of [
      ["GET", false],
      ["get", false],
      ["custom", false],
      ["M-SEARCH", true],
      ["TRACE", false],
      ["connect", false],
      ["bad method", false],
      ["GET", true],
      ["head", true],
      ["POST", true],
    ] as [string, boolean][]) {
      let expected: string | undefined;
      try {
        expected = new Request("http://localhost/", {
          method,
          ...(body ? { body: "x", duplex: "half" } : {}),
        } as RequestInit).method;
      } catch {
        expected = undefined;
      }
      if (expected === undefined) assert.throws(() => requestMethod(method, body), TypeError, method);
      else assert.equal(requestMethod(method, body), expected, method);
    }
  });
});
