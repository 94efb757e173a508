import { Option, type Command } from "commander";
import { BULKHEAD_SETTINGS, parseBulkheadValue, type BulkheadConfigOptions } from "../bulkhead/index.js";
import { SERVE_SETTINGS, startServer, type ServeSettingKey } from "../serve/index.js";
import { addLimitFlags, limitInputsFrom } from "./limit-flags.js";
import { EXIT, type CliIO } from "./io.js";

/** The bulkhead settings `warden serve` takes as flags, with their flag names. */
const BULKHEAD_FLAGS: readonly { key: keyof BulkheadConfigOptions; flag: string }[] = [
  { key: "maxConcurrentPerUser", flag: "--max-concurrent-per-user" },
  { key: "maxQueuePerUser", flag: "--max-queue-per-user" },
  { key: "maxConcurrentGlobal", flag: "--max-concurrent-global" },
  { key: "maxQueueGlobal", flag: "--max-queue-global" },
  { key: "queueTimeoutMs", flag: "--queue-timeout" },
  { key: "retryAfterSeconds", flag: "--retry-after" },
  { key: "overloadPolicy", flag: "--overload-policy" },
  { key: "store", flag: "--bulkhead-store" },
  { key: "redisOnFailure", flag: "--bulkhead-redis-on-failure" },
  { key: "redisKeyPrefix", flag: "--bulkhead-redis-prefix" },
  { key: "redisLeaseTtlMs", flag: "--bulkhead-redis-lease-ttl" },
];

function optionName(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds `warden serve` and its flags (serve settings, limits, bulkhead) to the program. */
export function addServeCommand(
  root: Command,
  io: CliIO,
  setExit: (code: number) => void,
  signals: NodeJS.EventEmitter = process,
): void {
  const command = root
    .command("serve")
    .description("serve a directory of Workers-style apps (or one app file) over HTTP, each request in a sandbox")
    .argument(
      "<path>",
      "a directory (each *.js, *.mjs, *.ts file and folder with index.* is an app at /<name>/) or one app file (served at /)",
    );
  for (const setting of SERVE_SETTINGS) {
    // A boolean setting is a bare flag (`--watch`); the others take a value.
    const flag = setting.type === "boolean" ? setting.flag : `${setting.flag} <value>`;
    command.addOption(new Option(flag, `${setting.description} [${setting.env}]`));
  }
  for (const { key, flag } of BULKHEAD_FLAGS) {
    const setting = BULKHEAD_SETTINGS.find((s) => s.key === key)!;
    command.addOption(new Option(`${flag} <value>`, `bulkhead: ${setting.description} [${setting.env}]`));
  }
  addLimitFlags(command).addHelpText(
    "after",
    "\nEvery setting also comes from the environment and the config file's serve section.\n" +
      "Per-request defaults: CPU 50ms, memory 128MB, wall clock 30s. SIGTERM/SIGINT drain and stop (exit 0).",
  );
  command.action(async (path: string, options: Record<string, unknown>) => {
    const flags: Partial<Record<ServeSettingKey, string>> = {};
    for (const setting of SERVE_SETTINGS) {
      const raw = options[optionName(setting.flag)];
      if (typeof raw === "string") flags[setting.key] = raw;
      else if (raw === true) flags[setting.key] = "true";
    }
    const bulkhead: Record<string, unknown> = {};
    for (const { key, flag } of BULKHEAD_FLAGS) {
      const raw = options[optionName(flag)];
      if (typeof raw === "string") {
        bulkhead[key] = parseBulkheadValue(
          BULKHEAD_SETTINGS.find((s) => s.key === key)!,
          raw,
          `the flag ${flag}`,
        );
      }
    }
    const limits = limitInputsFrom(options, io);
    const handle = await startServer({
      path,
      flags,
      bulkhead: bulkhead as BulkheadConfigOptions,
      limits,
      env: io.env,
      cwd: io.cwd,
      ...(limits.configFile !== undefined ? { configFile: limits.configFile } : {}),
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        signals.off("SIGTERM", onTerm);
        signals.off("SIGINT", onInt);
        handle.logger.info({ signal }, "signal received");
        resolve();
      };
      const onTerm = (): void => stop("SIGTERM");
      const onInt = (): void => stop("SIGINT");
      signals.on("SIGTERM", onTerm);
      signals.on("SIGINT", onInt);
    });
    await handle.close();
    setExit(EXIT.ok);
  });
}
