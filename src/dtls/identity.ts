/**
 * The relay's DTLS certificate: generated at start-up (ECDSA P-256, like rtpengine's default) or read
 * from PEM files, and its fingerprints for a=fingerprint (RFC 8122).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CipherContext, NamedCurveAlgorithm, SignatureAlgorithm, HashAlgorithm } from './werift.js';
import { ConfigError, SrtpError } from '../errors.js';

export interface DtlsIdentity {
  certPem: string;
  /** PKCS#8, as the DTLS library reads it. */
  keyPem: string;
  signature: 'ecdsa' | 'rsa';
}

/** a=fingerprint hash names (RFC 8122 §5) and their node:crypto names. */
export const FINGERPRINT_HASHES: Readonly<Record<string, string>> = {
  'sha-1': 'sha1',
  'sha-224': 'sha224',
  'sha-256': 'sha256',
  'sha-384': 'sha384',
  'sha-512': 'sha512',
};

export interface DtlsCertificateFiles {
  cert: string;
  key: string;
}

export async function createIdentity(files?: DtlsCertificateFiles): Promise<DtlsIdentity> {
  if (files) return readIdentity(files);
  const { certPem, keyPem } = await CipherContext.createSelfSignedCertificateWithKey(
    { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  return { certPem, keyPem, signature: 'ecdsa' };
}

async function readIdentity(files: DtlsCertificateFiles): Promise<DtlsIdentity> {
  try {
    const certPem = await readFile(files.cert, 'utf8');
    const key = createPrivateKey(await readFile(files.key, 'utf8'));
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(key)) throw new Error('the key does not belong to the certificate');
    const type = key.asymmetricKeyType;
    if (type !== 'ec' && type !== 'rsa') throw new Error(`unsupported key type ${type}`);
    return { certPem: cert.toString(), keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), signature: type === 'ec' ? 'ecdsa' : 'rsa' };
  } catch (err) {
    throw new ConfigError(`DTLS certificate ${files.cert} / key ${files.key}: ${(err as Error).message}`);
  }
}

/** `AB:CD:...` over the DER certificate, as a=fingerprint writes it. */
export function fingerprintOf(der: Buffer, hash: string): string {
  const algorithm = FINGERPRINT_HASHES[hash.toLowerCase()];
  if (!algorithm) throw new SrtpError(`unsupported fingerprint hash ${hash}`);
  return createHash(algorithm).update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

export function certificateDer(certPem: string): Buffer {
  return new X509Certificate(certPem).raw;
}
