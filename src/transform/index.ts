export { prepareSource, type PreparedSource } from "./prepare.js";
export {
  instrument,
  instrumentEval,
  GuestSyntaxError,
  type Instrumented,
  type InstrumentedEval,
  type SourceKind,
} from "./instrument.js";
export { instrumentFunction, type DynamicFunctionKind } from "./dynamic.js";
export { ReverseMap } from "./reverse.js";
export { isTypeScript } from "./strip-types.js";
export * as names from "./names.js";
