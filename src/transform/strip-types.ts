import { transformSync } from "esbuild";
import { GuestSyntaxError } from "./instrument.js";

/** File extensions whose types are stripped before instrumenting. */
const TYPESCRIPT = /\.(ts|mts|cts)$/i;

/** True when the file name says TypeScript. */
export function isTypeScript(filename: string): boolean {
  return TYPESCRIPT.test(filename);
}

/** JavaScript produced from TypeScript, with a source map back to the TypeScript. */
export interface Stripped {
  readonly code: string;
  readonly map: string;
}

/**
 * Removes TypeScript types with esbuild, keeping every other construct as
 * written (target esnext) so that the instrumenter sees the user's code.
 */
export function stripTypes(source: string, filename: string): Stripped {
  try {
    const result = transformSync(source, {
      loader: "ts",
      target: "esnext",
      sourcemap: "external",
      sourcefile: filename,
      // Keep enums/namespaces working and keep unused imports, which the sandbox then refuses clearly.
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    });
    return { code: result.code, map: result.map };
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { line: number; column: number } }[] }).errors?.[0];
    if (!first) throw error;
    throw new GuestSyntaxError(first.text, first.location?.line ?? 1, first.location?.column ?? 0);
  }
}
