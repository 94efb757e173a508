// uuid (browser build: pure-JS MD5 and SHA-1): name-based UUIDs of real package
// names, and time/random-based ones from a deterministic generator.
import { v1, v1ToV6, v3, v4, v5, v6, v7, parse, stringify, validate, version, NIL, MAX } from "uuid";
import manifests from "corpus-files:*/package.json?max=400";
import { attempt } from "./lib.js";

function* xorshift(seed) {
  let x = seed >>> 0 || 1;
  while (true) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield x >>> 0;
  }
}

export default function main(input) {
  const numbers = xorshift(input?.seed ?? 1);
  const rng = () => Uint8Array.from({ length: 16 }, () => numbers.next().value & 0xff);
  const names = manifests.slice(0, 80).map((m) => /"name":\s*"([^"]+)"/.exec(m.text)?.[1] ?? m.path);
  const results = { names: names.length, each: {} };
  for (const [i, name] of names.entries()) {
    const dns = v5(name, v5.DNS);
    const url = v3(`https://www.npmjs.com/package/${name}`, v3.URL);
    const time = v1({ msecs: 1700000000000 + i * 1000, nsecs: i, clockseq: i & 0x3fff, node: rng().slice(0, 6), rng });
    results.each[name] = [
      dns,
      url,
      v4({ rng }),
      time,
      v1ToV6(time),
      v6({ msecs: 1700000000000 + i, nsecs: 0, clockseq: 7, node: Uint8Array.of(1, 2, 3, 4, 5, 6), rng }),
      v7({ msecs: 1700000000000 + i * 31, random: rng() }),
      version(dns),
      Array.from(parse(url)).join(","),
      stringify(parse(dns)) === dns,
    ];
  }
  results.checks = [NIL, MAX, "not-a-uuid", "00000000-0000-0000-0000-00000000000g"].map((u) => [u, validate(u)]);
  results.bad = attempt(() => parse("nope"));
  results.v5bad = attempt(() => v5("x", "not-a-namespace"));
  return results;
}
