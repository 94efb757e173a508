export {
  ENGINE_NAMES,
  emptyUsage,
  type Engine,
  type EngineName,
  type EngineRunRequest,
  type EngineRunOutcome,
  type Usage,
  type WarningBudget,
  type ConsoleLevel,
} from "./contract.js";
export { createEngine, type EngineOptions } from "./factory.js";
