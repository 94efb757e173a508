/** Group `idna` (no globals): tr46's UTS #46 processing, ~200 KB of tables, loaded only for non-ASCII or punycode hosts. */

export { toASCII, toUnicode } from "tr46/index.js";
