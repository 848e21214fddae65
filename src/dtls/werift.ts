/**
 * werift's DTLS 1.2 (the one maintained DTLS implementation for Node), imported by its file path:
 * the package's `main` names a file it does not ship (werift-dtls 0.5.x).
 */
export { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm } from 'werift-dtls/lib/dtls/src/index.js';
export type { DtlsSocket } from 'werift-dtls/lib/dtls/src/index.js';
