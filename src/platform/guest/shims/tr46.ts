/**
 * Stands in for tr46 inside whatwg-url. For an ASCII domain none of whose
 * labels starts with "xn--", UTS #46 ToASCII (with the URL Standard's
 * options) is ASCII lowercasing: the URL Standard says so in "domain to
 * ASCII". Every other domain goes through tr46 in group `idna`.
 */
import { platform } from "../runtime.js";

interface Tr46 {
  toASCII(domain: string, options: object): string | null;
  toUnicode(domain: string, options: object): { domain: string; error: boolean };
}

function tr46(): Tr46 {
  return platform.require("idna") as Tr46;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** UTS #46 ToASCII, with the fast path for plain ASCII domains. */
export function toASCII(domain: string, options: { checkHyphens?: boolean } & object): string | null {
  if (!options.checkHyphens && isAscii(domain) && !/(^|\.)xn--/i.test(domain)) {
    return domain.toLowerCase();
  }
  return tr46().toASCII(domain, options);
}

/** UTS #46 ToUnicode (always through tr46). */
export function toUnicode(domain: string, options: object): { domain: string; error: boolean } {
  return tr46().toUnicode(domain, options);
}
