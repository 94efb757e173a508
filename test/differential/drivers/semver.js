// semver: every dependency range and version in the installed package
// manifests, with its comparisons and range algebra.
import semver from "semver";
import manifests from "corpus-files:*/package.json";
import bnf from "corpus-files:semver/range.bnf";
import { attempt, digest } from "./lib.js";

export default function main() {
  const versions = [];
  const ranges = [];
  for (const file of manifests) {
    const pkg = JSON.parse(file.text);
    if (pkg.version) versions.push(pkg.version);
    for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
      for (const range of Object.values(pkg[field] ?? {})) ranges.push(range);
    }
    if (pkg.engines?.node) ranges.push(pkg.engines.node);
  }
  const uniqueRanges = [...new Set(ranges)].sort();
  const sorted = semver.sort([...new Set(versions)].filter((v) => semver.valid(v)));
  const results = {
    versions: versions.length,
    ranges: uniqueRanges.length,
    sorted: digest(sorted),
    rsorted: digest(semver.rsort(sorted.slice())),
    bnf: bnf[0].text.length,
    coerce: ["v2", "1.2.3.4", "42.6.7.9.3-alpha", "version 3 beta", "", "1.2"].map((v) =>
      String(semver.coerce(v, { includePrerelease: true })),
    ),
    incs: ["major", "premajor", "minor", "preminor", "patch", "prepatch", "prerelease", "release"].map((kind) =>
      semver.inc("1.2.3-beta.4", kind, "rc"),
    ),
    bad: attempt(() => new semver.SemVer("not a version")),
    badRange: attempt(() => new semver.Range(">=1.0.0 <<2")),
    perRange: {},
  };
  // Every 16th distinct range keeps the run short; all of them are parsed once.
  results.parsed = uniqueRanges.map((range) => semver.validRange(range)).filter(Boolean).length;
  for (const [i, range] of uniqueRanges.entries()) {
    if (i % 16 !== 0) continue;
    const valid = semver.validRange(range);
    if (!valid) {
      results.perRange[range] = { invalid: true, coerced: String(semver.coerce(range)) };
      continue;
    }
    const parsed = new semver.Range(range, { includePrerelease: true });
    results.perRange[range] = {
      valid,
      max: semver.maxSatisfying(sorted, range),
      min: semver.minSatisfying(sorted, range),
      minVersion: attempt(() => semver.minVersion(range)?.version),
      count: sorted.filter((v) => parsed.test(v)).length,
      subset: semver.subset(range, ">=0.0.0"),
      intersects: semver.intersects(range, "^1.0.0 || ^2.0.0"),
      gtr: sorted.length ? semver.gtr(sorted[sorted.length - 1], range) : null,
    };
  }
  return results;
}
