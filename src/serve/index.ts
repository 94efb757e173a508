/**
 * `warden serve`: the HTTP server that runs untrusted Workers-style apps per request
 * (see docs/serve.md).
 */
export { startServer, type StartServerOptions, type ServeHandle } from "./server.js";
export {
  SERVE_SETTINGS,
  SERVE_LIMIT_DEFAULTS,
  LOG_LEVELS,
  resolveServeSettings,
  resolveAppSettings,
  parseServeValue,
  serveDefaults,
  type ServeSettings,
  type ServeSettingsOptions,
  type ServeSettingKey,
  type ServeSetting,
  type ServeSettingsInputs,
  type AppSettings,
  type LogLevel,
  type UserFrom,
} from "./options.js";
export { discoverApps, type AppSource } from "./apps.js";
export { AppNotFoundError, ShuttingDownError } from "./errors.js";
