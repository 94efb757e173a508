/** The committed src/platform/generated files are what scripts/build-platform.mjs builds from the current sources. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";

test("generated platform sources are up to date (else run npm run build:platform)", { timeout: 60_000 }, async () => {
  // @ts-expect-error a plain .mjs script without types
  const { buildPlatform } = (await import("../../scripts/build-platform.mjs")) as {
    buildPlatform(): Promise<{ files: Record<string, string> }>;
  };
  const { files } = await buildPlatform();
  for (const [path, text] of Object.entries(files)) {
    assert.ok(
      readFileSync(path, "utf8") === text,
      `${relative(process.cwd(), path)} is stale: run npm run build:platform`,
    );
  }
});
