/**
 * Group `url`: URL and URLSearchParams. The URL Standard's algorithms are
 * whatwg-url's (the reference implementation: its state machine and its
 * URL-impl/URLSearchParams-impl classes); the Web IDL layer on top is
 * shims/url-idl.ts, slimmer than whatwg-url's generated wrappers. The build
 * also swaps two of whatwg-url's modules: its TextEncoder/TextDecoder use
 * (shims/url-encoding.ts → group `encoding`) and tr46 (shims/tr46.ts → group
 * `idna`, loaded only for hosts that need IDNA).
 */
export { URL, URLSearchParams } from "./shims/url-idl.js";
