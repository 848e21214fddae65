/**
 * One source feeding several sinks, on whichever engine this pass runs (the addon's shard 0, or the
 * TypeScript workers' with RTPBRIDGE_NATIVE=0): each sink gets its own copy through its own sockets,
 * plain or protected with its own key, and a released sink drops out without disturbing the others.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createDataPlane } from '../src/dataplane/index.js';
import { learningPolicy } from '../src/dataplane/policy.js';
import type { SideConfig, SideId } from '../src/dataplane/types.js';
import { SrtpContext } from '../src/srtp/context.js';
import type { SrtpKeyMaterial } from '../src/srtp/keys.js';
import { Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import { mediaPorts } from './helpers/ports.js';

const LOCAL = '127.0.0.1';

function config(sinks: SideId[], phone: Phone, srtp: SideConfig['srtp'] = null): SideConfig {
  const at = { address: LOCAL, port: phone.port };
  return { sinks, mux: true, demux: true, policy: learningPolicy('off', false, false), rtp: at, rtcp: at, srtp, ice: null, dtls: null, dtmf: [], blockDtmf: false, dtmfSecurity: null, detectDtmf: false, transcode: [], inject: null, codecs: [] };
}

const key = (): SrtpKeyMaterial => ({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: randomBytes(16), masterSalt: randomBytes(14) });

t.test('a source with three sinks: plain, SRTP and a released one', async (t) => {
  const dp = createDataPlane(1);
  t.teardown(() => dp.close());
  t.equal(dp.engineOf(0), process.env.RTPBRIDGE_NATIVE === '0' ? 'workers' : 'native', 'shard 0 is the engine this pass tests');
  const phones = await Promise.all([0, 1, 2, 3].map(() => Phone.open()));
  t.teardown(() => phones.forEach((p) => p.close()));
  const [source, plain, secure, gone] = phones as [Phone, Phone, Phone, Phone];
  const { portMin } = await mediaPorts(8);
  const ports = [0, 1, 2, 3].map((i) => portMin + 2 * i);
  for (let i = 0; i < 4; i++) t.equal(await dp.bind(i + 1, 0, LOCAL, 'IP4', ports[i]!), 'bound');
  const towardsSecure = key();
  dp.configure(1, config([2, 3, 4], source));
  dp.configure(2, config([1], plain));
  dp.configure(3, config([1], secure, { decrypt: key(), encrypt: towardsSecure }));
  dp.configure(4, config([1], gone));

  const sent = [1, 2, 3].map((seq) => rtpPacket(seq, { mark: seq }));
  for (const p of sent) await source.send(p, ports[0]!, LOCAL);
  await source.send(rtcpPacket(), ports[0]!, LOCAL);
  const atPlain = await plain.waitFor(4);
  const atSecure = await secure.waitFor(4);
  await gone.waitFor(4);
  t.same(
    atPlain.map((r) => r.data),
    [...sent, rtcpPacket()],
    'the plain sink gets the packets as sent',
  );
  t.ok(
    atPlain.every((r) => r.from.port === ports[1]),
    'from its own port',
  );
  const rx = new SrtpContext(towardsSecure);
  t.same(
    atSecure.map((r) => (r.data[1] === 201 ? rx.unprotectRtcp(r.data) : rx.unprotectRtp(r.data))),
    [...sent, rtcpPacket()],
    'the SRTP sink gets them under its own key',
  );
  t.ok(
    atSecure.every((r) => r.from.port === ports[2]),
    'from its own port',
  );

  void dp.release(4);
  // A read is answered after every earlier message to the thread, the release included.
  t.equal((await dp.read([1, 4])).size, 1, 'the released side is gone');
  await source.send(rtpPacket(4), ports[0]!, LOCAL);
  await plain.waitFor(5);
  await secure.waitFor(5);
  await sleep(50);
  t.equal(gone.received.length, 4, 'a released sink gets nothing more');
  const counters = await dp.counters();
  t.equal(counters.packetsIn, 5);
  t.equal(counters.packetsOut, 4 * 3 + 2, 'one copy per live sink');
});

t.test('SRTP progress read from one data plane and restored into another: a stream past a ROC wrap goes on', async (t) => {
  const { portMin } = await mediaPorts(8);
  const phones = await Promise.all([0, 1].map(() => Phone.open()));
  t.teardown(() => phones.forEach((p) => p.close()));
  const [srtpPhone, plainPhone] = phones as [Phone, Phone];
  const phoneKey = key();
  const keys = { decrypt: phoneKey, encrypt: key() };
  const tx = new SrtpContext(phoneKey);
  const send = (seq: number): Promise<void> => srtpPhone.send(tx.protectRtp(rtpPacket(seq, { ssrc: 0x50c, mark: seq & 0xff })) as Buffer, portMin, LOCAL);
  const setUp = async () => {
    const dp = createDataPlane(1);
    t.equal(await dp.bind(1, 0, LOCAL, 'IP4', portMin), 'bound');
    t.equal(await dp.bind(2, 0, LOCAL, 'IP4', portMin + 2), 'bound');
    dp.configure(1, config([2], srtpPhone, keys));
    dp.configure(2, config([1], plainPhone));
    return dp;
  };
  let dp = await setUp();
  for (const seq of [65534, 65535, 0, 1]) await send(seq);
  await plainPhone.waitFor(4);
  const state = (await dp.read([1])).get(1)!;
  t.same(state.srtp?.decrypt.ssrcs, [[0x50c, 65536 + 1]], 'the progress says ROC 1, SEQ 1');
  await dp.close();

  // A data plane that starts afresh guesses ROC 0: the next packet fails authentication.
  dp = await setUp();
  await send(2);
  await sleep(100);
  t.equal((await dp.counters()).dropped.srtp, 1, 'without the progress the stream is lost');
  await dp.close();

  dp = await setUp();
  t.teardown(() => dp.close());
  dp.restore(1, state);
  await send(3);
  const got = await plainPhone.waitFor(5);
  t.same(got[4]!.data, rtpPacket(3, { ssrc: 0x50c, mark: 3 }), 'with it, the stream goes on');
});
