import { EngineError } from "../../errors/index.js";
import type { Engine, EngineRunOutcome } from "../contract.js";
import type { EngineOptions } from "../factory.js";

/** Placeholder until the QuickJS engine lands: refuses clearly instead of failing obscurely. */
export class QuickJSEngine implements Engine {
  readonly name = "quickjs" as const;
  static async create(_options: EngineOptions): Promise<QuickJSEngine> {
    throw new EngineError('the "quickjs" engine is not available yet; use engine "v8"');
  }
  async run(): Promise<EngineRunOutcome> {
    throw new EngineError("not available");
  }
  async close(): Promise<void> {}
}
