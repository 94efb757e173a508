export {
  createRuntime,
  Runtime,
  type RuntimeOptions,
  type RunOptions,
  type RunResult,
  type RuntimeWarning,
  type RuntimeEvents,
} from "./runtime.js";
