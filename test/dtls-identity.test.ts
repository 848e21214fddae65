/**
 * The relay's DTLS certificate: made at start-up by default, or read from PEM files,
 * and what a=fingerprint says of it.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Relay } from '../src/relay.js';
import { createIdentity, fingerprintOf } from '../src/dtls/identity.js';
import { mediaPorts } from './helpers/ports.js';
import { phoneSdp } from './helpers/sdp.js';

function fingerprintIn(sdp: string): string {
  return /a=fingerprint:sha-256 (\S+)/.exec(sdp)![1]!;
}

async function dtlsOffer(relay: Relay, callId: string): Promise<string> {
  const { sdp } = await relay.offer({ callId, fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }), transportProtocol: 'UDP/TLS/RTP/SAVPF' });
  return sdp;
}

t.test('default: an ECDSA P-256 certificate made at start-up, fingerprinted in SDP', async (t) => {
  const identity = await createIdentity();
  const cert = new X509Certificate(identity.certPem);
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(fingerprintOf(cert.raw, 'sha-256'), cert.fingerprint256, 'our sha-256 fingerprint is the standard one');
  t.equal(fingerprintOf(cert.raw, 'SHA-1'), cert.fingerprint);

  const relay = new Relay(await mediaPorts(50));
  t.teardown(() => relay.close());
  const mine = new X509Certificate((await relay.dtlsIdentity).certPem);
  t.equal(fingerprintIn(await dtlsOffer(relay, 'd1')), mine.fingerprint256, 'the offer names the relay certificate');
});

t.test('--dtls-cert-file/--dtls-key-file: that certificate (RSA here), and a clear error for a wrong pair', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-dtls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=rtpbridge-test'], { stdio: 'ignore' });
  const relay = new Relay({ ...(await mediaPorts(50)), dtlsCertificate: { cert, key } });
  t.teardown(() => relay.close());
  t.equal((await relay.dtlsIdentity).signature, 'rsa');
  const der = new X509Certificate((await relay.dtlsIdentity).certPem).raw;
  const expected = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
  t.equal(fingerprintIn(await dtlsOffer(relay, 'd2')), expected);

  const other = join(dir, 'other-key.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other], { stdio: 'ignore' });
  await t.rejects(createIdentity({ cert, key: other }), { code: 'CONFIG_INVALID', message: /does not belong to the certificate/ });
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate');
  await t.rejects(createIdentity({ cert: join(dir, 'garbage.pem'), key }), { code: 'CONFIG_INVALID' });
});
