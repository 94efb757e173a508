/**
 * Group `url`: URL and URLSearchParams from whatwg-url (the WHATWG reference
 * implementation). The build swaps two of its modules: its TextEncoder/
 * TextDecoder use (shims/url-encoding.ts → group `encoding`) and tr46
 * (shims/tr46.ts → group `idna`, loaded only for hosts that need IDNA).
 */
export { URL, URLSearchParams } from "whatwg-url";
