/**
 * SDES `a=crypto` attributes (RFC 4568 §9.1): parsed into key material the SRTP layer can use, and
 * written back out. Lines the relay cannot use (unknown suite, wrong key length, an MKI on an AEAD
 * suite, bad base64) are skipped here; the caller decides whether none usable is an error.
 */
import type { SrtpKeyMaterial } from '../srtp/keys.js';
import { suiteByName, type SrtpSuite } from '../srtp/suites.js';

/** RFC 4568 session parameters that change the transform; others (KDR, FEC_ORDER...) are carried verbatim. */
const TRANSFORM_PARAMS = ['UNENCRYPTED_SRTP', 'UNENCRYPTED_SRTCP', 'UNAUTHENTICATED_SRTP'] as const;

export interface SdesCrypto {
  tag: number;
  suite: SrtpSuite;
  /** Master key followed by master salt. */
  keySalt: Buffer;
  /** `|2^31` style lifetime, verbatim with its bar, or ''. */
  lifetime: string;
  /** MKI length in bytes carried in every packet (`|1:4` -> 4), 0 for none. */
  mkiLength: number;
  /** Session parameters after the key parameters, verbatim. */
  params: string[];
}

const CRYPTO_LINE = /^a=crypto:(\d{1,9}) +(\S+) +inline:([A-Za-z0-9+/]+={0,2})((?:\|[^|\s]+){0,2})(?: +(.*))?$/;

/** The usable SDES lines of one media section, in the order written. */
export function parseCryptoLines(lines: readonly string[]): { usable: SdesCrypto[]; present: number } {
  const usable: SdesCrypto[] = [];
  let present = 0;
  for (const line of lines) {
    if (!line.startsWith('a=crypto:')) continue;
    present++;
    const parsed = parseCrypto(line.trimEnd());
    if (parsed) usable.push(parsed);
  }
  return { usable, present };
}

function parseCrypto(line: string): SdesCrypto | undefined {
  const m = CRYPTO_LINE.exec(line);
  if (!m) return undefined;
  const suite = suiteByName(m[2]!);
  if (!suite) return undefined;
  const keySalt = Buffer.from(m[3]!, 'base64');
  if (keySalt.length !== suite.keyLength + suite.saltLength) return undefined;
  let lifetime = '';
  let mkiLength = 0;
  for (const part of m[4]!.split('|').slice(1)) {
    const mki = /^\d+:(\d{1,3})$/.exec(part);
    if (mki) mkiLength = Number(mki[1]);
    else if (/^(?:2\^)?\d+$/.test(part)) lifetime = `|${part}`;
    else return undefined;
  }
  // RFC 7714 defines no MKI placement the relay implements for AEAD; an MKI beyond 128 bytes is nonsense.
  if (mkiLength > 128 || (mkiLength > 0 && suite.cipher === 'aes-gcm')) return undefined;
  return { tag: Number(m[1]), suite, keySalt, lifetime, mkiLength, params: m[5] ? m[5].trim().split(/\s+/) : [] };
}

export function formatCrypto(c: SdesCrypto, pad: boolean): string {
  const b64 = c.keySalt.toString('base64');
  const key = pad ? b64 : b64.replace(/=+$/, '');
  const params = c.params.length > 0 ? ` ${c.params.join(' ')}` : '';
  return `a=crypto:${c.tag} ${c.suite.name} inline:${key}${c.lifetime}${params}`;
}

/** What the SRTP transform needs from a line: its key, and the session parameters that change the transform. */
export function keyMaterial(c: SdesCrypto): SrtpKeyMaterial {
  const has = (p: (typeof TRANSFORM_PARAMS)[number]): boolean => c.params.includes(p);
  return {
    suite: c.suite.name,
    masterKey: c.keySalt.subarray(0, c.suite.keyLength),
    masterSalt: c.keySalt.subarray(c.suite.keyLength),
    unencryptedSrtp: has('UNENCRYPTED_SRTP'),
    unencryptedSrtcp: has('UNENCRYPTED_SRTCP'),
    unauthenticatedSrtp: has('UNAUTHENTICATED_SRTP'),
    mkiLength: c.mkiLength,
  };
}
