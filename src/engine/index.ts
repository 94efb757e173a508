export {
  ENGINE_NAMES,
  defaultInstances,
  emptyUsage,
  type Engine,
  type EngineInstance,
  type EngineLoadOutcome,
  type EngineLoadRequest,
  type FetchAnswer,
  type FetchDescription,
  type InstanceCallKind,
  type InstanceCallRequest,
  type RunReporter,
  type EngineName,
  type EngineRunRequest,
  type EngineRunOutcome,
  type Usage,
  type WarningBudget,
  type ConsoleLevel,
} from "./contract.js";
export { createEngine, type EngineOptions } from "./factory.js";
export type { HostCallHandler } from "./host-calls.js";
