import { Option, type Command } from "commander";
import { LIMIT_DEFINITIONS, PROFILE_NAMES, type LimitKey, type LimitInputs } from "../limits/index.js";
import type { CliIO } from "./io.js";

/** Adds `--profile`, `--config` and one flag per limit or setting (such as `--allow-code-generation`) to a command. */
export function addLimitFlags(command: Command): Command {
  command.addOption(new Option("--profile <name>", `limits profile: ${PROFILE_NAMES.join(", ")} (default normal)`));
  command.addOption(new Option("--config <file>", "config file (default: ./warden.config.json when present)"));
  for (const def of LIMIT_DEFINITIONS) {
    const example =
      def.type === "duration"
        ? "50ms|2s|5min"
        : def.type === "size"
          ? "64MB|1GiB"
          : def.type === "fraction"
            ? "0.9|90%"
            : def.type === "boolean"
              ? "true|false"
              : "N";
    command.addOption(new Option(`${def.flag} <${example}>`, `${def.description} [${def.env}]`));
  }
  return command;
}

function optionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Turns parsed commander options into resolver inputs; values stay raw so the resolver validates them. */
export function limitInputsFrom(options: Record<string, unknown>, io: CliIO): LimitInputs {
  const flags: Partial<Record<LimitKey, string>> = {};
  for (const def of LIMIT_DEFINITIONS) {
    const raw = options[optionName(def.flag)];
    if (typeof raw === "string") flags[def.key] = raw;
  }
  return {
    flags,
    env: io.env,
    cwd: io.cwd,
    ...(typeof options["profile"] === "string" ? { profile: options["profile"], profileSource: "flag" as const } : {}),
    ...(typeof options["config"] === "string"
      ? { configFile: options["config"], configFileSource: "the flag --config" }
      : {}),
  };
}
