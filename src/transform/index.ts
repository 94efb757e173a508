export { prepareSource, type PreparedSource } from "./prepare.js";
export { instrument, GuestSyntaxError, type Instrumented, type SourceKind } from "./instrument.js";
export { isTypeScript } from "./strip-types.js";
export * as names from "./names.js";
