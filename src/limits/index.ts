export {
  LIMIT_DEFINITIONS,
  LIMIT_KEYS,
  PROFILE_NAMES,
  DEFAULT_PROFILE,
  PROFILE_ENV,
  definitionOf,
  isLimitKey,
  isDisabled,
  type LimitKey,
  type ProfileName,
  type ValueType,
  type LimitDefinition,
} from "./definitions.js";
export { parseLimitValue, expectedForm } from "./parse.js";
export { readConfigFile, CONFIG_FILE_NAME, type ConfigFile } from "./config-file.js";
export {
  resolveLimits,
  overrideLimits,
  type LimitSource,
  type ResolvedLimit,
  type ResolvedLimits,
  type LimitValues,
  type LimitOptions,
  type LimitInputs,
} from "./resolve.js";
