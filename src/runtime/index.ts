export {
  checkAllowFetch,
  createRuntime,
  Runtime,
  type RuntimeOptions,
  type RunOptions,
  type RuntimeWarning,
  type RuntimeEvents,
} from "./runtime.js";
export { type RunResult } from "./values.js";
export { LoadedApp, type LoadOptions, type CallOptions, type AppStats, type Isolation } from "./app.js";
export { directoryModules, mapModules, type ModuleResolver, type SpawnableModule } from "./modules.js";
