import { formatSize } from "../units/index.js";
import { LIMIT_DEFINITIONS, resolveLimits, type ResolvedLimit, type ResolvedLimits } from "../limits/index.js";
import type { CliIO } from "./io.js";
import { EXIT } from "./io.js";

/** One limit or setting in `warden limits --json`. */
export interface LimitJson {
  /** A number in `unit` for limits; a boolean for settings (`unit` is then `"boolean"`). */
  value: number | boolean;
  unit: string;
  source: string;
  origin: string;
}

/** The `--json` shape: one object keyed by limit key. */
export function limitsToJson(limits: ResolvedLimits): Record<string, LimitJson> {
  const out: Record<string, LimitJson> = {};
  for (const def of LIMIT_DEFINITIONS) {
    const e = limits.entries[def.key];
    out[def.key] = { value: e.value, unit: e.unit, source: e.source, origin: e.origin };
  }
  return out;
}

function shown(e: ResolvedLimit): string {
  if (e.unit === "boolean") return String(e.value);
  if (e.disabled) return `disabled (${e.value})`;
  if (e.unit === "bytes") return `${formatSize(e.value)} (${e.value} bytes)`;
  if (e.unit === "fraction") return `${e.value} (${Math.round(e.value * 1000) / 10}%)`;
  return `${e.value} ${e.unit}`;
}

/** The effective limits as the table `warden limits` prints (also the REPL's `.limits`). */
export function limitsTable(limits: ResolvedLimits): string {
  const rows = LIMIT_DEFINITIONS.map((def) => {
    const e = limits.entries[def.key];
    return [def.key, shown(e), e.source === "default" || e.source === "profile" ? e.source : `${e.source} ${e.origin}`];
  });
  const header = ["limit", "value", "source"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const profile = `profile: ${limits.profile} (${limits.profileSource})${limits.configFile ? `\nconfig file: ${limits.configFile}` : ""}`;
  return [profile, "", line(header), ...rows.map(line)].join("\n") + "\n";
}

/** `warden limits`: prints the effective limits with value, unit and source. */
export function limitsCommand(inputs: Parameters<typeof resolveLimits>[0], json: boolean, io: CliIO): number {
  const limits = resolveLimits(inputs);
  io.out(json ? JSON.stringify(limitsToJson(limits), null, 2) + "\n" : limitsTable(limits));
  return EXIT.ok;
}
