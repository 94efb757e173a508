/**
 * Snippets for the platform differential test: each is the body of an async
 * function whose JSON result must be the same in Node (its own globals) and in
 * raw QuickJS and raw isolated-vm contexts with the platform layer installed.
 *
 * `differs` marks an engine whose result is known to differ, with the reason
 * (docs/platform.md lists them); such a case is reported as a todo there.
 */

/** One differential case. */
export interface PlatformCase {
  readonly name: string;
  readonly body: string;
  readonly differs?: { readonly quickjs?: string; readonly v8?: string };
}

/** A case run on the engines only (it changes globals, which Node's run would keep), checked against `expect`. */
export interface EngineCase {
  readonly name: string;
  readonly body: string;
  readonly expect: unknown;
}

/** Helpers every snippet may use: `t` / `ta` catch to "throws <name>", `bytes` lists a buffer's bytes. */
export const HELPERS = `
const t = (f) => { try { return f(); } catch (e) { return "throws " + (e && e.name); } };
const ta = async (f) => { try { return await f(); } catch (e) { return "throws " + (e && e.name); } };
const bytes = (b) => Array.from(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
const hex = (b) => bytes(b).map((x) => x.toString(16).padStart(2, "0")).join("");
const parts = (u) => [u.href, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin];
`;

const url = (input: string, base?: string) =>
  `return t(() => parts(new URL(${JSON.stringify(input)}${base === undefined ? "" : `, ${JSON.stringify(base)}`})));`;

/** The differential cases, by API. */
export const CASES: readonly PlatformCase[] = [
  // ------------------------------------------------------------------ URL
  { name: "url: absolute", body: url("https://user:pa%20ss@Example.COM:8080/a/./b/../c?q=1&r=%41#frag") },
  { name: "url: default port dropped", body: url("http://example.com:80/") },
  { name: "url: relative path", body: url("../x/y?z", "http://h.example/a/b/c") },
  { name: "url: relative query and hash", body: url("?q#h", "http://h.example/a/b") },
  { name: "url: scheme-relative", body: url("//other.example/p", "https://h.example/a") },
  { name: "url: backslashes in special URL", body: url("http:\\\\h.example\\a\\b") },
  { name: "url: IPv6", body: url("http://[2001:DB8:0:0:0:0:0:1]:8080/") },
  { name: "url: IPv6 v4-mapped", body: url("http://[::ffff:192.168.0.1]/") },
  { name: "url: IPv4 shorthand", body: url("http://0x7f.1/") },
  { name: "url: IPv4 decimal", body: url("http://3232235521/") },
  { name: "url: invalid IPv6", body: url("http://[1::2::3]/") },
  { name: "url: invalid IPv4", body: url("http://1.2.3.4.5.6/") },
  { name: "url: IDNA unicode host", body: url("https://Bücher.example/") },
  { name: "url: IDNA fullwidth and mapping", body: url("http://ＥＸＡＭＰＬＥ.com/") },
  { name: "url: IDNA emoji", body: url("http://☃.net/") },
  { name: "url: IDNA punycode stays", body: url("http://xn--nxasmq6b.com/") },
  { name: "url: IDNA invalid punycode", body: url("http://xn--a.com/") },
  { name: "url: forbidden host code point", body: url("http://a<b/") },
  { name: "url: no scheme fails", body: url("//x") },
  { name: "url: empty fails", body: url("") },
  { name: "url: file URL", body: url("file:///C:/dir/../x.txt") },
  { name: "url: opaque path", body: url("mailto:Someone@Example.com?subject=hi") },
  { name: "url: data URL", body: url("data:text/plain,hello world") },
  { name: "url: blob-like non-special", body: url("foo://host:99/path with space") },
  { name: "url: percent-encoding of path and query", body: url("http://h/ä b?ä b#ä b") },
  { name: "url: tabs and newlines stripped", body: url("ht\ttp://h\n.example/a\rb") },
  { name: "url: port out of range", body: url("http://h:65536/") },
  { name: "url: credentials without password", body: url("ftp://anon@h/") },
  {
    name: "url: setters",
    body: `const u = new URL("http://h.example/a?b#c");
u.protocol = "https"; u.hostname = "Other.Example"; u.port = "8443"; u.pathname = "/x y";
u.search = "q=1 2"; u.hash = "frag ment"; u.username = "me"; u.password = "p@ss";
const r = [u.href];
u.port = ""; u.protocol = "ftp"; u.host = "[::1]:21"; r.push(u.href);
u.protocol = "notspecial"; r.push(u.href);
return r;`,
  },
  {
    name: "url: static canParse and parse",
    body: `return [URL.canParse("http://x"), URL.canParse("nope"), URL.canParse("/a", "http://b"), typeof URL.parse, URL.parse ? String(URL.parse("x")) : null];`,
  },
  {
    name: "url: toJSON and toString",
    body: `const u = new URL("http://h/p"); return [JSON.stringify({u}), String(u), u.toJSON()];`,
  },
  {
    name: "url: searchParams get/getAll",
    body: `const p = new URL("http://h/?a=1&b=2&a=3&c=%20+x").searchParams; return [p.get("a"), p.getAll("a"), p.get("c"), p.has("b"), p.get("z"), p.size];`,
  },
  {
    name: "url: searchParams mutation reflects in href",
    body: `const u = new URL("http://h/p?a=1&b=2#f"); const p = u.searchParams;
p.append("c", "x y&z"); p.set("a", "9"); p.delete("b"); const r = [u.href, u.search];
p.sort(); r.push(u.href); u.search = "?n=1"; r.push(p.get("n"), [...p].length);
p.delete("n"); r.push(u.href); return r;`,
  },
  {
    name: "url: URLSearchParams constructors",
    body: `return [
  String(new URLSearchParams("?a=1&a=2&b")),
  String(new URLSearchParams([["x", "1"], ["y", "é"]])),
  String(new URLSearchParams({ k: "v", "sp ace": "+" })),
  String(new URLSearchParams(new URLSearchParams("q=1"))),
  t(() => String(new URLSearchParams([["only-one"]]))),
];`,
  },
  {
    name: "url: URLSearchParams iteration and delete with value",
    body: `const p = new URLSearchParams("a=1&b=2&a=3"); p.delete("a", "3");
return [[...p.keys()], [...p.values()], [...p.entries()], p.toString(), p.has("a", "1"), p.has("a", "3")];`,
  },
  {
    name: "url: URLSearchParams encoding",
    body: `return [new URLSearchParams({ q: "a b+c&d=é~*'()!" }).toString(), new URLSearchParams("q=%zz%41").get("q")];`,
  },
  {
    name: "url: Web IDL surface",
    body: `const shape = (o) => Object.getOwnPropertyNames(o).sort().map((k) => { const d = Object.getOwnPropertyDescriptor(o, k); return [k, typeof d.value === "function" ? d.value.length : typeof d.get, d.enumerable, typeof d.set]; });
return [shape(URL.prototype), shape(URLSearchParams.prototype), shape(URL).filter(([k]) => k !== "prototype" && k !== "createObjectURL" && k !== "revokeObjectURL"), URLSearchParams.length,
  t(() => new URL()), t(() => URL.prototype.href), t(() => new URLSearchParams().append("a")), t(() => URLSearchParams.prototype.get.call({}, "a")),
  t(() => new URLSearchParams({ [Symbol("s")]: "1" }).toString()), t(() => new URLSearchParams([["a", "b", "c"]])), t(() => new URLSearchParams([1])), t(() => new URL(Symbol()))];`,
  },
  {
    name: "url: USVString conversion",
    body: `const u = new URL("http://h/\\ud800?\\udc00#\\ud83d"); const p = new URLSearchParams([["\\ud800", "x\\udfff"]]); p.append("\\ud83d\\ude00", "\\ud83d");
return [u.href, p.toString(), [...p.keys()].map((k) => k.length), new URL("http://h/").searchParams === new URL("http://h/").searchParams];`,
  },
  {
    name: "url: searchParams identity and forEach liveness",
    body: `const u = new URL("http://h/?a=1"); const sp = u.searchParams; const seen = []; sp.forEach((v, k, self) => { seen.push([k, v, self === sp]); if (seen.length < 3) sp.append("n" + seen.length, "x"); });
u.href = "http://h/?z=9"; return [u.searchParams === sp, seen, sp.get("z"), [...sp.entries()], Object.prototype.toString.call(sp.entries())];`,
  },
  {
    name: "url: shape",
    body: `return [typeof URL, URL.name, URL.length, Object.prototype.toString.call(new URL("http://h")), typeof URLSearchParams.prototype.forEach];`,
  },

  { name: "url: IDNA non-transitional sharp s", body: url("http://faß.de/") },
  { name: "url: IDNA uppercase punycode", body: url("http://XN--BCHER-KVA.example/") },
  { name: "url: IDNA roman numeral mapping", body: url("http://Ⅻ.example/") },
  { name: "url: IDNA invalid label", body: url("http://a.xn--/") },
  { name: "url: IDNA bidi", body: url("http://ab.מקור.com/") },
  { name: "url: IDNA soft hyphen ignored", body: url("http://ex\u00adample.com/") },
  { name: "url: IDNA disallowed", body: url("http://a\u2028b.com/") },
  { name: "url: trailing dot host", body: url("http://Example.com./") },
  { name: "url: percent-encoded host", body: url("http://%65xample.com/") },
  { name: "url: ws and port", body: url("ws://h:80/x") },
  { name: "url: query encoding of special chars", body: url("http://h/?a='b c'&d=\"e\"#<f>") },
  { name: "url: non-special query", body: url("foo://h/?a='b c'") },
  { name: "url: relative against opaque base fails", body: url("x", "mailto:a@b") },
  { name: "url: dot segments with encoded dots", body: url("http://h/a/%2e%2E/b/%2e/c") },
  { name: "url: javascript URL", body: url("javascript:alert(1)") },
  {
    name: "url: URLSearchParams sort and size",
    body: `const p = new URLSearchParams("z=1&a=2&é=3&a=1&🙂=4&Z=5"); p.sort(); return [p.toString(), p.size, [...p.keys()]];`,
  },
  // ------------------------------------------------------------------ encoding
  {
    name: "encoding: encode",
    body: `return [bytes(new TextEncoder().encode("aé€😀")), new TextEncoder().encoding, bytes(new TextEncoder().encode())];`,
  },
  {
    name: "encoding: encode lone surrogates",
    body: `return [bytes(new TextEncoder().encode("a\\ud800b")), bytes(new TextEncoder().encode("\\udc00")), bytes(new TextEncoder().encode("\\ud83d"))];`,
  },
  {
    name: "encoding: encodeInto",
    body: `const out = new Uint8Array(5); const r = new TextEncoder().encodeInto("a€😀", out);
return [r, bytes(out), t(() => new TextEncoder().encodeInto("x", []))];`,
  },
  {
    name: "encoding: decode valid",
    body: `return new TextDecoder().decode(new Uint8Array([0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]));`,
  },
  {
    name: "encoding: decode invalid UTF-8 replacement",
    body: `const d = (a) => new TextDecoder().decode(new Uint8Array(a));
return [d([0xff]), d([0xc3]), d([0xe2, 0x82]), d([0xed, 0xa0, 0x80]), d([0xf0, 0x80, 0x80, 0x80]), d([0xc0, 0xaf]), d([0xf4, 0x90, 0x80, 0x80]), d([0xe0, 0x80, 0x41]), d([0x80, 0x80]), d([0xf1, 0x80, 0x41])];`,
  },
  {
    name: "encoding: fatal",
    body: `const d = new TextDecoder("utf-8", { fatal: true });
return [d.fatal, t(() => d.decode(new Uint8Array([0xff]))), t(() => d.decode(new Uint8Array([0xe2, 0x82]))), d.decode(new Uint8Array([0x61]))];`,
  },
  {
    name: "encoding: BOM",
    body: `const b = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
return [new TextDecoder().decode(b), new TextDecoder("utf-8", { ignoreBOM: true }).decode(b).length, new TextDecoder().ignoreBOM];`,
  },
  {
    name: "encoding: streaming",
    body: `const d = new TextDecoder(); const all = new TextEncoder().encode("€😀é");
let s = ""; for (const byte of all) s += d.decode(new Uint8Array([byte]), { stream: true });
s += d.decode(); const d2 = new TextDecoder();
const a = d2.decode(new Uint8Array([0xe2, 0x82]), { stream: true }); const b = d2.decode();
const d3 = new TextDecoder(); const c = d3.decode(new Uint8Array([0xef, 0xbb]), { stream: true }) + d3.decode(new Uint8Array([0xbf, 0x62]), { stream: true }) + d3.decode();
return [s, a, b, c];`,
  },
  {
    name: "encoding: labels",
    body: `return [new TextDecoder("UTF8").encoding, new TextDecoder(" latin1 ").encoding, new TextDecoder("ascii").encoding, new TextDecoder("utf-16").encoding, t(() => new TextDecoder("nope"))];`,
  },
  {
    name: "encoding: utf-16 and windows-1252",
    body: `return [
  new TextDecoder("utf-16le").decode(new Uint8Array([0x61, 0, 0x3d, 0xd8, 0, 0xde])),
  new TextDecoder("utf-16be").decode(new Uint8Array([0, 0x61, 0xd8, 0x3d])),
  new TextDecoder("latin1").decode(new Uint8Array([0x41, 0xa0, 0xe9, 0xff])),
  new TextDecoder("utf-16le").decode(new Uint8Array([0xff, 0xfe, 0x62, 0])),
];`,
  },
  {
    name: "encoding: windows-1252 bytes 0x80-0x9F",
    body: `return Array.from(new TextDecoder("latin1").decode(new Uint8Array([0x80, 0x8a, 0x9f])), (c) => c.charCodeAt(0));`,
    differs: {
      quickjs:
        "Node 20 decodes the windows-1252 labels as ISO-8859-1; the Encoding Standard (and this layer) maps 0x80-0x9F to windows-1252",
      v8: "Node 20 decodes the windows-1252 labels as ISO-8859-1; the Encoding Standard (and this layer) maps 0x80-0x9F to windows-1252",
    },
  },
  {
    name: "encoding: decode views and buffers",
    body: `const b = new TextEncoder().encode("xhello"); return [new TextDecoder().decode(b.buffer), new TextDecoder().decode(new DataView(b.buffer, 1, 3)), new TextDecoder().decode(b.subarray(2)), t(() => new TextDecoder().decode("str"))];`,
  },
  {
    name: "encoding: btoa",
    body: `return [btoa(""), btoa("a"), btoa("ab"), btoa("abc"), btoa("\\xff\\xfe"), btoa(123), t(() => btoa("€")), t(() => btoa())];`,
  },
  {
    name: "encoding: atob",
    body: `return [atob("YQ=="), atob("YQ"), atob(" Y W J j "), atob(""), t(() => atob("Y")), t(() => atob("a===")), t(() => atob("**")), atob("/+8="), t(() => atob("YQ=a")), atob(null)];`,
  },
  {
    name: "encoding: atob error is DOMException",
    body: `try { atob("!"); } catch (e) { return [e instanceof DOMException, e.name, e.code, e instanceof Error]; }`,
  },

  {
    name: "encoding: fatal utf-16 and reuse after error",
    body: `const d = new TextDecoder("utf-16le", { fatal: true }); const r = [t(() => d.decode(new Uint8Array([0x00, 0xd8]))), t(() => d.decode(new Uint8Array([0x61])))];
const u = new TextDecoder("utf-8", { fatal: true }); r.push(t(() => u.decode(new Uint8Array([0xe2]), { stream: true })), t(() => u.decode()), u.decode(new Uint8Array([0x62])));
return r;`,
  },
  {
    name: "encoding: large round trip",
    body: `let s = ""; for (let i = 0; i < 20000; i++) s += String.fromCodePoint(i * 37 % 0x10ffff); s = s.replace(/[\ud800-\udfff]/g, "");
const b = new TextEncoder().encode(s); const back = new TextDecoder().decode(b); return [b.length, back === s];`,
  },
  // ------------------------------------------------------------------ Headers
  {
    name: "headers: normalisation and order",
    body: `const h = new Headers({ "X-B": " two ", "x-a": "1" }); h.append("X-A", "3"); h.append("Set-Cookie", "a=1"); h.append("set-cookie", "b=2"); h.append("Accept", "*/*");
return [[...h], h.get("x-a"), h.get("SET-COOKIE"), h.getSetCookie(), h.has("x-b"), h.get("missing")];`,
  },
  {
    name: "headers: set and delete",
    body: `const h = new Headers([["a", "1"], ["a", "2"], ["b", "3"]]); h.set("A", "9"); h.delete("b");
return [[...h.keys()], [...h.values()], [...h.entries()]];`,
  },
  {
    name: "headers: invalid names and values",
    body: `return [t(() => new Headers({ "a b": "1" })), t(() => new Headers([["a"]])), t(() => new Headers({ a: "x\\u0000y" })), t(() => new Headers().append("a", "b\\r\\nc")), t(() => new Headers().get("bad name")), new Headers({ a: "\\t v \\n" }).get("a")];`,
  },
  {
    name: "headers: forEach",
    body: `const out = []; new Headers({ b: "2", a: "1" }).forEach((v, k, self) => out.push([k, v, self instanceof Headers])); return out;`,
  },
  {
    name: "headers: from Headers and iterable",
    body: `const a = new Headers({ x: "1" }); const b = new Headers(a); b.append("y", "2"); return [[...a], [...b], [...new Headers(new Map([["m", "n"]]))]];`,
  },

  {
    name: "headers: iteration while mutating",
    body: `const h = new Headers({ b: "1", d: "2" }); const seen = []; for (const [k] of h) { seen.push(k); if (k === "b") h.append("c", "3"); } return seen;`,
  },
  { name: "headers: inner whitespace kept", body: `return new Headers({ a: "  x  y  " }).get("a");` },
  // ------------------------------------------------------------------ Request / Response
  {
    name: "response: bodies",
    body: `return [
  await new Response("héllo").text(),
  await new Response('{"a":[1,2]}').json(),
  bytes(await new Response(new Uint8Array([1, 2, 3])).arrayBuffer()),
  bytes(await new Response("ab").bytes()),
  await new Response(null).text(),
  await new Response().text(),
  await new Response(new URLSearchParams("a=1&b=2")).text(),
];`,
  },
  {
    name: "response: defaults and status",
    body: `const r = new Response("x", { status: 201, statusText: "Created", headers: { "X-Y": "z" } });
return [r.status, r.statusText, r.ok, r.type, r.url, r.redirected, r.bodyUsed, [...r.headers], new Response().status, new Response(null, { status: 404 }).ok];`,
  },
  {
    name: "response: errors",
    body: `return [t(() => new Response("x", { status: 204 })), t(() => new Response(null, { status: 600 })), t(() => new Response(null, { status: 199 })), new Response(null, { status: 204 }).status, t(() => new Response("", { statusText: "a\\nb" }))];`,
  },
  {
    name: "response: content-type from body",
    body: `return [
  new Response("x").headers.get("content-type"),
  new Response(new URLSearchParams("a=1")).headers.get("content-type"),
  new Response(new Blob(["x"], { type: "Text/HTML" })).headers.get("content-type"),
  new Response(new Blob(["x"])).headers.get("content-type"),
  new Response(new Uint8Array(1)).headers.get("content-type"),
  new Response("x", { headers: { "content-type": "a/b" } }).headers.get("content-type"),
];`,
  },
  {
    name: "response: bodyUsed and double read",
    body: `const r = new Response("x"); const a = r.bodyUsed; await r.text(); return [a, r.bodyUsed, await ta(() => r.text()), t(() => r.clone())];`,
  },
  {
    name: "response: clone",
    body: `const r = new Response("data", { status: 202, headers: { a: "b" } }); const c = r.clone();
return [await r.text(), await c.text(), c.status, [...c.headers], c instanceof Response];`,
  },
  {
    name: "response: clone of a streamed body",
    body: `const r = new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("a")); c.enqueue(new TextEncoder().encode("b")); c.close(); } }));
const c = r.clone(); return [await c.text(), await r.text(), r.bodyUsed, c.bodyUsed];`,
  },
  {
    name: "response: json and redirect",
    body: `const j = Response.json({ a: 1 }, { status: 202, headers: { x: "y" } });
const r = Response.redirect("http://h.example/next", 307);
return [j.status, j.headers.get("content-type"), await j.json(), r.status, r.headers.get("location"), t(() => r.headers.set("a", "b")),
  t(() => Response.redirect("http://h/", 200)), t(() => Response.redirect("/relative")), t(() => Response.json(undefined)), Response.redirect("http://h/").status];`,
  },
  {
    name: "response: error()",
    body: `const e = Response.error(); return [e.type, e.status, e.ok, e.body, t(() => e.headers.append("a", "b"))];`,
  },
  {
    name: "response: body stream",
    body: `const r = new Response("stream me"); const body = r.body; const reader = body.getReader(); const chunks = [];
for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(...value); }
return [body instanceof ReadableStream, r.bodyUsed, new TextDecoder().decode(new Uint8Array(chunks)), new Response(null).body, await ta(() => r.text())];`,
  },
  {
    name: "response: blob body",
    body: `const b = await new Response("abc", { headers: { "content-type": "text/x" } }).blob(); return [b instanceof Blob, b.size, b.type, await b.text()];`,
  },
  {
    name: "response: blob type is the parsed Content-Type",
    body: `const type = async (ct) => (await new Response("x", { headers: { "content-type": ct } }).blob()).type;
return [await type("Text/X; Charset=UTF-8"), await type('a/b;x="q\\\\\\"z";y=1;x=2'), await type("nonsense"), await type('a/b; p=""'), await type(" a/b ;  k = v ; bare")];`,
  },
  {
    name: "iterators: Web IDL iterator objects",
    body: `const h = new Headers({ a: "1" }); const f = new FormData(); f.append("k", "v"); const it = h.entries(); const fit = f.keys();
return [Object.prototype.toString.call(it), Object.prototype.toString.call(fit), it.next(), fit.next(), fit.next(), typeof it[Symbol.iterator], it[Symbol.iterator]() === it,
  Object.getPrototypeOf(Object.getPrototypeOf(it)) === Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())), Object.prototype.toString.call(new URLSearchParams().keys())];`,
  },
  {
    name: "response: formData round trip",
    body: `const f = new FormData(); f.append("a", "1"); f.append("file", new Blob(["xyz"], { type: "text/plain" }), "n.txt");
const r = new Response(f); const type = r.headers.get("content-type"); const back = await r.formData(); const file = back.get("file");
return [type.startsWith("multipart/form-data; boundary="), back.get("a"), file.name, file.type, await file.text(), [...back.keys()]];`,
  },
  {
    name: "response: urlencoded formData",
    body: `const back = await new Response(new URLSearchParams("a=1&b=x+y")).formData(); return [...back];`,
  },
  {
    name: "request: basics",
    body: `const r = new Request("http://h.example/a?b", { method: "post", body: "hi", headers: { "X-A": "1" } });
return [r.method, r.url, [...r.headers], await r.text(), r.bodyUsed, r.mode, r.credentials, r.cache, r.redirect, r.referrer, r.integrity, r.keepalive, r.destination, r.duplex];`,
  },
  {
    name: "request: method normalisation and errors",
    body: `const m = (x) => t(() => new Request("http://h/", { method: x }).method);
return [m("get"), m("Patch"), m("delete"), m("CONNECT"), m("trace"), m("bad method"), t(() => new Request("/relative")), t(() => new Request("http://u:p@h/")), t(() => new Request("http://h/", { body: "x" })), t(() => new Request("http://h/", { method: "HEAD", body: "x" }))];`,
  },
  {
    name: "request: the same URL texts again (Requests remember their parses)",
    body: `const urls = [];
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < 100; i++) urls.push(new Request("http://H.example:80/p/./q/../" + (i % 70) + "?a b#f").url);
  urls.push(t(() => new Request("http://u:p@h/")), t(() => new Request("/relative")), t(() => new Request("http://[::1/")));
}
let calls = 0;
const input = { toString() { calls++; return "HTTP://h/x/../y"; } };
const once = [new Request(input).url, new Request(input).url, calls];
return [urls.length, [...new Set(urls)].length, urls.slice(0, 3), urls.slice(-4), once];`,
  },
  {
    name: "request: from request and clone",
    body: `const a = new Request("http://h/", { method: "PUT", body: "payload", headers: { a: "1" } });
const c = a.clone(); const b = new Request(a, { headers: { b: "2" } });
return [a.bodyUsed, await b.text(), [...b.headers], b.method, await c.text(), t(() => new Request(a))];`,
  },
  {
    name: "request: signal",
    body: `const ac = new AbortController(); const r = new Request("http://h/", { signal: ac.signal });
const before = r.signal.aborted; ac.abort("why"); return [r.signal instanceof AbortSignal, before, r.signal.aborted, r.signal.reason, new Request("http://h/").signal.aborted];`,
  },

  // ------------------------------------------------------------------ streams
  {
    name: "streams: read all",
    body: `const rs = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } });
const out = []; for await (const x of rs) out.push(x); return [out, rs.locked];`,
  },
  {
    name: "streams: pipeThrough and pipeTo",
    body: `const rs = new ReadableStream({ start(c) { for (const w of ["a", "b", "c"]) c.enqueue(w); c.close(); } });
const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
const seen = []; await rs.pipeThrough(upper).pipeTo(new WritableStream({ write(x) { seen.push(x); } })); return seen;`,
  },
  {
    name: "streams: text encoder and decoder streams",
    body: `const rs = new ReadableStream({ start(c) { c.enqueue("h€"); c.enqueue("\\ud83d"); c.enqueue("\\ude00!"); c.close(); } });
const bytesOut = []; const text = [];
const [a, b] = rs.pipeThrough(new TextEncoderStream()).tee();
for await (const chunk of a) bytesOut.push(...chunk);
for await (const s of b.pipeThrough(new TextDecoderStream())) text.push(s);
return [bytesOut, text.join(""), new TextDecoderStream("latin1").encoding, new TextEncoderStream().encoding];`,
  },
  {
    name: "streams: errors and cancel",
    body: `let reason; const rs = new ReadableStream({ cancel(r) { reason = r; } }); await rs.cancel("stop");
const bad = new ReadableStream({ start(c) { c.error(new TypeError("boom")); } });
const read = await ta(() => bad.getReader().read());
const ws = new WritableStream({ write() { throw new RangeError("no"); } }); const w = ws.getWriter();
const wrote = await ta(() => w.write(1)); return [reason, read, wrote, t(() => { const s = new ReadableStream(); s.getReader(); s.getReader(); })];`,
  },
  {
    name: "streams: backpressure and strategies",
    body: `const rs = new ReadableStream({}, new CountQueuingStrategy({ highWaterMark: 3 })); let controller;
const rs2 = new ReadableStream({ start(c) { controller = c; } }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
controller.enqueue(new Uint8Array(4)); return [new CountQueuingStrategy({ highWaterMark: 3 }).highWaterMark, controller.desiredSize, rs.locked, rs2.locked];`,
  },
  {
    name: "streams: byte stream BYOB",
    body: `const rs = new ReadableStream({ type: "bytes", start(c) { c.enqueue(new Uint8Array([1, 2, 3, 4])); c.close(); } });
const reader = rs.getReader({ mode: "byob" }); const first = await reader.read(new Uint8Array(2)); const second = await reader.read(new Uint8Array(8));
return [bytes(first.value), first.done, bytes(second.value), (await reader.read(new Uint8Array(1))).done];`,
  },
  {
    name: "streams: ReadableStream.from",
    body: `const out = []; for await (const x of ReadableStream.from([1, 2, 3])) out.push(x); return out;`,
  },

  {
    name: "streams: writable close, abort and transform flush",
    body: `const log = []; const ws = new WritableStream({ write(c) { log.push("w" + c); }, close() { log.push("close"); }, abort(r) { log.push("abort " + r); } });
const w = ws.getWriter(); await w.write(1); await w.close(); const ws2 = new WritableStream({ abort(r) { log.push("abort " + r); } }); await ws2.abort("why");
const ts = new TransformStream({ transform(c, ctl) { ctl.enqueue(c * 2); }, flush(ctl) { ctl.enqueue(-1); } });
const out = []; const writer = ts.writable.getWriter(); writer.write(1); writer.write(2); writer.close(); for await (const x of ts.readable) out.push(x);
return [log, out];`,
  },
  {
    name: "streams: pipeTo with an AbortSignal",
    body: `const ac = new AbortController(); let pulls = 0; const rs = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); if (pulls === 3) ac.abort("stop"); } });
const got = []; const result = await ta(() => rs.pipeTo(new WritableStream({ write(x) { got.push(x); } }), { signal: ac.signal }));
return [result, got.length > 0];`,
  },
  {
    name: "streams: response body of a stream, partially read",
    body: `const rs = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("ab")); c.enqueue(new TextEncoder().encode("cd")); c.close(); } });
const r = new Response(rs); const reader = r.body.getReader(); const first = await reader.read(); reader.releaseLock();
return [new TextDecoder().decode(first.value), r.bodyUsed, await r.text().catch((e) => e.name), r.body === r.body];`,
  },
  // ------------------------------------------------------------------ events / abort
  {
    name: "events: dispatch, once, options",
    body: `const et = new EventTarget(); const log = [];
const h = (e) => log.push([e.type, e.target === et, e.currentTarget === et, e.eventPhase]);
et.addEventListener("x", h); et.addEventListener("x", h); et.addEventListener("x", () => log.push("once"), { once: true });
et.dispatchEvent(new Event("x")); et.dispatchEvent(new Event("x")); et.removeEventListener("x", h); et.dispatchEvent(new Event("x"));
return log;`,
  },
  {
    name: "events: cancelable and handleEvent",
    body: `const et = new EventTarget(); et.addEventListener("c", { handleEvent(e) { e.preventDefault(); } });
const a = new Event("c", { cancelable: true }); const b = new Event("c");
return [et.dispatchEvent(a), a.defaultPrevented, et.dispatchEvent(b), b.defaultPrevented, a.bubbles, a.cancelable, typeof a.timeStamp];`,
  },
  {
    name: "events: stopImmediatePropagation and CustomEvent",
    body: `const et = new EventTarget(); const log = [];
et.addEventListener("e", (e) => { log.push(1); e.stopImmediatePropagation(); }); et.addEventListener("e", () => log.push(2));
et.dispatchEvent(new CustomEvent("e", { detail: { k: 1 } })); const ce = new CustomEvent("z", { detail: 5 });
return [log, ce.detail, ce instanceof Event, new CustomEvent("q").detail, t(() => new Event())];`,
  },
  {
    name: "events: listener signal",
    body: `const et = new EventTarget(); const ac = new AbortController(); let n = 0;
et.addEventListener("x", () => n++, { signal: ac.signal }); et.dispatchEvent(new Event("x")); ac.abort(); et.dispatchEvent(new Event("x")); return n;`,
  },
  {
    name: "abort: controller",
    body: `const ac = new AbortController(); const log = []; ac.signal.addEventListener("abort", (e) => log.push(["listener", e.type, ac.signal.aborted]));
ac.signal.onabort = () => log.push("onabort"); const before = [ac.signal.aborted, ac.signal.reason];
ac.abort(); ac.abort("again"); const r = ac.signal.reason;
return [before, log, ac.signal.aborted, r instanceof DOMException, r.name, r.message, r.code, t(() => ac.signal.throwIfAborted())];`,
  },
  {
    name: "abort: reasons and statics",
    body: `const a = AbortSignal.abort(); const b = AbortSignal.abort(42); const c = new AbortController(); c.abort(new TypeError("x"));
return [a.aborted, a.reason.name, b.reason, c.signal.reason.name, t(() => b.throwIfAborted()), t(() => new AbortSignal()), new AbortController().signal.throwIfAborted() === undefined];`,
  },
  {
    name: "abort: any",
    body: `const a = new AbortController(); const b = new AbortController(); const any = AbortSignal.any([a.signal, b.signal]);
const log = []; any.addEventListener("abort", () => log.push(any.reason)); b.abort("b first"); a.abort("a");
const pre = AbortSignal.any([AbortSignal.abort("pre")]); return [any.aborted, any.reason, log, pre.aborted, pre.reason];`,
  },
  {
    name: "domexception: shape",
    body: `const e = new DOMException("msg", "NotFoundError"); const d = new DOMException();
const o = new DOMException("m", { name: "DataCloneError", cause: 7 });
return [e.name, e.message, e.code, e instanceof Error, String(e), Object.prototype.toString.call(e), d.name, d.message, d.code, DOMException.ABORT_ERR, o.name, o.code, o.cause, Object.keys(e)];`,
  },

  // ------------------------------------------------------------------ structuredClone
  {
    name: "clone: containers and primitives",
    body: `const src = { n: 1, s: "x", b: true, u: undefined, z: null, big: 10n, neg0: -0, nan: NaN, arr: [1, , 3], nested: { d: new Date(5) } };
const c = structuredClone(src);
return [c.n, c.s, c.b, "u" in c, c.z, String(c.big), Object.is(c.neg0, -0), Number.isNaN(c.nan), 1 in c.arr, c.arr.length, c.nested.d.getTime(), c.nested.d instanceof Date, c !== src];`,
  },
  {
    name: "clone: Map, Set, RegExp, boxed",
    body: `const m = new Map([["k", new Set([1, 2])], [{ o: 1 }, "v"]]); const c = structuredClone({ m, r: /ab+c/gi, bx: Object("str"), bn: Object(3) });
return [c.m instanceof Map, [...c.m.get("k")], [...c.m.keys()][1].o, c.r.source, c.r.flags, c.r instanceof RegExp, typeof c.bx, String(c.bx), Number(c.bn)];`,
  },
  {
    name: "clone: cycles and shared references",
    body: `const a = { name: "a" }; a.self = a; const shared = { s: 1 }; const src = { a, list: [shared, shared] };
const c = structuredClone(src); return [c.a.self === c.a, c.list[0] === c.list[1], c.a !== a];`,
  },
  {
    name: "clone: typed arrays and buffers",
    body: `const buf = new ArrayBuffer(8); const u8 = new Uint8Array(buf, 2, 4); u8.set([1, 2, 3, 4]); const dv = new DataView(buf, 1, 2); const f64 = new Float64Array([1.5, -2]);
const c = structuredClone({ u8, dv, f64, buf });
return [c.u8.byteOffset, c.u8.length, bytes(c.u8), c.dv.byteOffset, c.dv.byteLength, c.u8.buffer === c.buf, c.dv.buffer === c.buf, Array.from(c.f64), c.buf !== buf, c.buf.byteLength, bytes(c.buf)];`,
  },
  {
    name: "clone: errors",
    body: `const e = new RangeError("bad", { cause: "why" }); e.extra = 1; const c = structuredClone(e); const o = structuredClone(new (class X extends Error {})("m"));
return [c instanceof RangeError, c.message, c.cause, c.extra, c.name, o.constructor === Error, o.message];`,
  },
  {
    name: "clone: DataCloneError",
    body: `const check = (v) => { try { structuredClone(v); return "cloned"; } catch (e) { return [e.name, e instanceof DOMException, e.code]; } };
return [check(() => 1), check(Symbol("s")), check({ f() {} }), check(new WeakMap()), check(Promise.resolve()), t(() => structuredClone())];`,
  },
  {
    name: "clone: platform objects clone as plain objects",
    body: `return [structuredClone(new URL("http://h/")), structuredClone(new Headers({ a: "1" })), structuredClone(new TextEncoder()), JSON.stringify(structuredClone(new DOMException("m")))];`,
  },
  {
    name: "events: timeStamp is relative to the run's start",
    body: `const e = new Event("x"); return [typeof e.timeStamp, e.timeStamp >= 0, e.timeStamp < 60000, e.timeStamp <= performance.now()];`,
  },
  {
    name: "formdata: iterator is entries",
    body: `return [FormData.prototype[Symbol.iterator] === FormData.prototype.entries, Headers.prototype[Symbol.iterator] === Headers.prototype.entries, URLSearchParams.prototype[Symbol.iterator] === URLSearchParams.prototype.entries];`,
  },
  {
    name: "clone: class instances become plain objects",
    body: `class P { constructor() { this.x = 1; } get y() { return 2; } } const c = structuredClone(new P()); return [c.x, c.y, Object.getPrototypeOf(c) === Object.prototype];`,
  },
  {
    name: "clone: transfer",
    body: `const b = new ArrayBuffer(4); const c = structuredClone(b, { transfer: [b] }); return [c.byteLength, b.byteLength, t(() => structuredClone(1, { transfer: [1] })), t(() => structuredClone(1, { transfer: [{}] }))];`,
    differs: {
      quickjs: "QuickJS has no ArrayBuffer.prototype.transfer: the transferred buffer is copied, not detached",
      v8: "Node 20's V8 has no ArrayBuffer.prototype.transfer (isolated-vm's has none either): the transferred buffer is copied, not detached",
    },
  },
  {
    name: "clone: property rules",
    body: `const src = { get g() { return "got"; }, [Symbol("s")]: 1 }; Object.defineProperty(src, "hidden", { value: 1, enumerable: false });
const arr = [1, 2]; arr.extra = "x"; arr[5] = 6; const c = structuredClone({ src, arr, bad: new Date(NaN), big: new BigInt64Array([1n, -1n]) });
return [c.src, Object.getOwnPropertySymbols(c.src).length, c.arr.extra, c.arr.length, 3 in c.arr, Number.isNaN(c.bad.getTime()), Array.from(c.big, String)];`,
  },
  {
    name: "clone: objects that only claim a kind",
    body: `const fake = (tag) => ({ [Symbol.toStringTag]: tag, x: 1 });
return ["Date", "Map", "Set", "RegExp", "ArrayBuffer", "Uint8Array", "Number", "Array"].map((tag) => t(() => { const c = structuredClone(fake(tag)); return [Object.prototype.toString.call(c), c.x]; }));`,
  },
  {
    name: "clone: nested maps with cycles",
    body: `const m = new Map(); const s = new Set([m]); m.set("self", m); m.set("set", s); const c = structuredClone(m);
return [c.get("self") === c, [...c.get("set")][0] === c, c !== m];`,
  },
  {
    name: "clone: Blob",
    body: `const b = structuredClone(new Blob(["xy"], { type: "a/b" })); return [b instanceof Blob, b.type, b.size, await b.text()];`,
  },
  {
    name: "clone: File",
    body: `const f = structuredClone(new File(["abc"], "a.txt", { type: "text/plain", lastModified: 42 }));
return [f instanceof File, f.name, f.type, f.lastModified, await f.text()];`,
    differs: {
      quickjs:
        "Node 20 clones a File as a plain Blob (name and lastModified lost); this layer keeps it a File, as the File API says",
      v8: "Node 20 clones a File as a plain Blob (name and lastModified lost); this layer keeps it a File, as the File API says",
    },
  },

  // ------------------------------------------------------------------ Blob / File / FormData
  {
    name: "blob: parts, size, type",
    body: `const b = new Blob(["ab", new Uint8Array([99]), new Blob(["d"]), new Uint16Array([0x6665]).buffer], { type: "Text/Plain" });
return [b.size, b.type, await b.text(), new Blob([], { type: "a\\u0001b" }).type, new Blob().size, t(() => new Blob("str")), new Blob([123, { toString() { return "o"; } }]).size];`,
  },
  {
    name: "blob: slice",
    body: `const b = new Blob(["hello world"]); return [await b.slice(6).text(), await b.slice(-5, -1).text(), await b.slice(3, 1).text(), b.slice(0, 5, "X/Y").type, b.slice().size, await b.slice(2, 100).text()];`,
  },
  {
    name: "blob: arrayBuffer, bytes, stream",
    body: `const b = new Blob(["héllo"]); const chunks = []; for await (const c of b.stream()) chunks.push(...c);
return [bytes(await b.arrayBuffer()), bytes(await b.bytes()), chunks, Object.prototype.toString.call(b)];`,
  },
  {
    name: "blob: text decodes invalid UTF-8",
    body: `return await new Blob([new Uint8Array([0x61, 0xff, 0x62])]).text();`,
  },
  {
    name: "file: name and lastModified",
    body: `const f = new File(["x"], "n.bin", { type: "application/octet-stream", lastModified: 1234 }); const g = new File([], "e");
return [f.name, f.size, f.type, f.lastModified, f instanceof Blob, typeof g.lastModified, t(() => new File(["x"]))];`,
  },
  {
    name: "formdata: operations",
    body: `const f = new FormData(); f.append("a", "1"); f.append("b", "2"); f.append("a", "3"); f.set("b", "9"); f.append("c", new Blob(["x"]));
f.append("d", new File(["y"], "y.txt"), "renamed.txt"); const c = f.get("c"); const d = f.get("d");
const r = [f.get("a"), f.getAll("a"), f.has("b"), f.get("zz"), [...f.keys()], c instanceof File, c.name, d.name];
f.delete("a"); r.push([...f.keys()]); const seen = []; f.forEach((v, k) => seen.push(k)); r.push(seen);
r.push(t(() => f.append("x"))); r.push(t(() => f.append("x", "y", "z"))); return r;`,
  },

  // ------------------------------------------------------------------ crypto / misc
  {
    name: "crypto: digest vectors",
    body: `const enc = (s) => new TextEncoder().encode(s); const out = [];
for (const alg of ["SHA-1", "SHA-256", "SHA-384", "SHA-512", "sha-256", { name: "SHA-1" }]) for (const s of ["", "abc"]) out.push(hex(await crypto.subtle.digest(alg, enc(s))));
out.push(hex(await crypto.subtle.digest("SHA-256", new Uint8Array(300000).fill(0x61))));
out.push(await ta(() => crypto.subtle.digest("MD5", enc("x"))), await ta(() => crypto.subtle.digest("SHA-256", "str")));
const digest = await crypto.subtle.digest("SHA-256", enc("abc")); out.push(digest instanceof ArrayBuffer);
return out;`,
  },
  {
    name: "crypto: getRandomValues",
    body: `const a = crypto.getRandomValues(new Uint8Array(32)); const same = crypto.getRandomValues(a) === a; const u32 = crypto.getRandomValues(new Uint32Array(4));
return [same, a.length, u32.length, t(() => crypto.getRandomValues(new Float64Array(1))), t(() => crypto.getRandomValues(new Uint8Array(65537))), crypto.getRandomValues(new Uint8Array(65536)).length, new Set(Array.from({ length: 20 }, () => crypto.getRandomValues(new Uint32Array(1))[0])).size > 15];`,
  },
  {
    name: "crypto: randomUUID",
    body: `const ids = Array.from({ length: 50 }, () => crypto.randomUUID());
return [ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)), new Set(ids).size, typeof crypto.subtle, Object.prototype.toString.call(crypto)];`,
  },
  {
    name: "misc: queueMicrotask order",
    body: `const log = []; queueMicrotask(() => log.push("micro1")); Promise.resolve().then(() => log.push("promise")); queueMicrotask(() => log.push("micro2"));
log.push("sync"); await null; await null; return [log, t(() => queueMicrotask(1))];`,
  },
  {
    name: "misc: performance.now",
    body: `const a = performance.now(); let x = 0; for (let i = 0; i < 1e5; i++) x += i; const b = performance.now(); return [typeof a, b >= a, a >= 0, a < 60000];`,
  },

  // ------------------------------------------------------------------ globals
  {
    name: "globals: descriptors after use",
    body: `const names = ["URL", "TextEncoder", "Headers", "ReadableStream", "AbortController", "Blob", "structuredClone", "crypto", "atob", "queueMicrotask", "DOMException", "Event"];
return names.map((n) => { void globalThis[n]; const d = Object.getOwnPropertyDescriptor(globalThis, n); return [n, typeof globalThis[n], d.writable, d.enumerable, d.configurable, "get" in d]; });`,
    differs: {
      quickjs:
        "Node makes queueMicrotask, structuredClone, atob, crypto... enumerable; this layer makes every global non-enumerable (Web IDL)",
      v8: "Node makes queueMicrotask, structuredClone, atob, crypto... enumerable; this layer makes every global non-enumerable (Web IDL)",
    },
  },
  {
    name: "globals: names and lengths",
    body: `return ["URL", "URLSearchParams", "TextEncoder", "TextDecoder", "Headers", "Request", "Response", "ReadableStream", "WritableStream", "TransformStream", "AbortController", "AbortSignal", "Event", "EventTarget", "Blob", "File", "FormData", "DOMException"].map((n) => [n, globalThis[n].name, Object.prototype.toString.call(globalThis[n].prototype)]);`,
  },
];

/** Every platform global's name, for the engine-only cases. */
function globalsList(names: readonly string[]): string {
  return JSON.stringify(names);
}

/** Cases about the loader itself: run on the engines only, against a fixed expectation. */
export function engineCases(platformGlobals: readonly string[]): EngineCase[] {
  return [
    {
      name: "loader: a fresh context shows accessors, nothing enumerable",
      body: `const d = Object.getOwnPropertyDescriptor(globalThis, "URL");
return [Object.keys(globalThis), typeof d.get, typeof d.set, d.enumerable, d.configurable, ${globalsList(platformGlobals)}.every((n) => n in globalThis)];`,
      expect: [[], "function", "function", false, true, true],
    },
    {
      name: "loader: every global loads and settles as a hidden data property",
      body: `return ${globalsList(platformGlobals)}.filter((n) => { const v = globalThis[n]; const d = Object.getOwnPropertyDescriptor(globalThis, n);
  return v === undefined || !("value" in d) || d.value !== v || !d.writable || d.enumerable || !d.configurable; });`,
      expect: [],
    },
    {
      name: "loader: nothing but the platform globals appears on globalThis",
      body: `const before = new Set(Object.getOwnPropertyNames(globalThis)); const symbols = Object.getOwnPropertySymbols(globalThis).length; const platform = new Set(${globalsList(platformGlobals)});
for (const n of platform) void globalThis[n];
await new Response("x").text(); new URL("http://bücher.example/é"); structuredClone(new Blob(["a"])); await crypto.subtle.digest("SHA-1", new Uint8Array(1));
const added = Object.getOwnPropertyNames(globalThis).filter((n) => !before.has(n) && !platform.has(n));
const gone = [...before].filter((n) => !(n in globalThis));
return [added, gone, Object.keys(globalThis), Object.getOwnPropertySymbols(globalThis).length - symbols];`,
      expect: [[], [], [], 0],
    },
    {
      name: "loader: assigning before first use keeps the value and loads nothing",
      body: `URL = 1; globalThis.Blob = "b"; const d = Object.getOwnPropertyDescriptor(globalThis, "URL");
return [URL, d, Blob, typeof URLSearchParams, new URLSearchParams("a=1").get("a")];`,
      expect: [1, { value: 1, writable: true, enumerable: false, configurable: true }, "b", "function", "1"],
    },
    {
      name: "loader: deleting a global before use",
      body: `delete globalThis.URLSearchParams; const u = new URL("http://h/?a=2");
return [typeof URLSearchParams, "URLSearchParams" in globalThis, u.searchParams.get("a"), Object.prototype.toString.call(u.searchParams)];`,
      expect: ["undefined", false, "2", "[object URLSearchParams]"],
    },
    {
      name: "loader: deleting after use",
      body: `void TextEncoder; delete globalThis.TextEncoder; return [typeof TextEncoder, typeof TextDecoder];`,
      expect: ["undefined", "function"],
    },
    {
      name: "loader: groups do not depend on the guest's globals",
      body: `globalThis.TextEncoder = null; globalThis.TextDecoder = null; globalThis.ReadableStream = null; globalThis.DOMException = null; globalThis.URLSearchParams = null;
const r = new Response(new Blob(["abc"])); const clone = r.clone();
return [await r.text(), await clone.text(), new URL("http://h/é").pathname, t(() => atob("!")), await new Response("x").body.getReader().read().then((c) => c.value.length)];`,
      expect: ["abc", "abc", "/%C3%A9", "throws InvalidCharacterError", 1],
    },
    {
      name: "abort: AbortSignal.timeout uses the context's setTimeout",
      body: `const none = t(() => AbortSignal.timeout(5)); const delays = [];
globalThis.setTimeout = (f, ms) => { delays.push(ms); queueMicrotask(f); };
const s = AbortSignal.timeout(7.9); const before = s.aborted; await null; await null;
return [none, before, s.aborted, s.reason.name, s.reason.code, delays, t(() => AbortSignal.timeout(-1))];`,
      expect: ["throws NotSupportedError", false, true, "TimeoutError", 23, [7], "throws TypeError"],
    },
    {
      name: "loader: its own steps survive a polluted Object.prototype",
      body: `Object.prototype.get = function () { return "polluted"; }; Object.prototype.value = 5;
let r; try { TextDecoder = 1; r = [TextDecoder, Object.getOwnPropertyDescriptor(globalThis, "TextDecoder").writable]; } finally { delete Object.prototype.get; delete Object.prototype.value; }
return [...r, typeof TextEncoder, new TextEncoder().encode("é").length];`,
      expect: [1, true, "function", 2],
    },
    {
      name: "loader: globals can be redefined and frozen",
      body: `Object.defineProperty(globalThis, "Headers", { value: 7, writable: false, configurable: false }); void Request;
return [Headers, Object.getOwnPropertyDescriptor(globalThis, "Headers").configurable, typeof Request, [...new Request("http://h/", { headers: { a: "1" } }).headers]];`,
      expect: [7, false, "function", [["a", "1"]]],
    },
  ];
}
