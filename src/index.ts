/**
 * Warden: run untrusted JavaScript/TypeScript under hard resource limits.
 * This is the package's public surface.
 */
export * from "./errors/index.js";
export * from "./limits/index.js";
export * from "./bulkhead/index.js";
export * from "./datastore/index.js";
export { parseDuration, parseSize, formatSize, formatDuration } from "./units/index.js";
export { VERSION } from "./version.js";
export * from "./runtime/index.js";
export { ENGINE_NAMES, type EngineName, type Usage, type WarningBudget, type ConsoleLevel } from "./engine/index.js";
