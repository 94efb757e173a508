import { ConfigError } from "../errors/index.js";
import { ENGINE_NAMES, type Engine, type EngineName, type EngineOptions } from "./contract.js";

export type { EngineOptions } from "./contract.js";

/** Creates an engine by name; engines load lazily so that one missing native module does not break the other. */
export async function createEngine(name: string, options: EngineOptions = {}): Promise<Engine> {
  switch (name) {
    case "v8": {
      const { V8Engine } = await import("./v8/engine.js");
      return V8Engine.create(options);
    }
    case "quickjs": {
      const { QuickJSEngine } = await import("./quickjs/engine.js");
      return QuickJSEngine.create(options);
    }
    default:
      throw new ConfigError({
        source: "the option engine",
        value: name,
        expected: `one of ${ENGINE_NAMES.join(", ")}`,
      });
  }
}

/** True when a string names an engine. */
export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}
