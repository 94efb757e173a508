export {
  parseDuration,
  parseSize,
  formatSize,
  formatSizeApprox,
  formatDuration,
  UnitParseError,
  EXPECTED_DURATION,
  EXPECTED_SIZE,
  SIZE_UNITS,
  DURATION_UNITS,
} from "./units.js";
