/** Call lifetime: delete variants, delete-delay, media timeout, and the library's typed events. */
import t from 'tap';
import { Relay } from '../src/index.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { canBind, freed, Phone, rtpPacket, sleep } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';


const offer = (callId: string, port = 8000) => ({ command: 'offer', 'call-id': callId, 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port }) });

t.test('delete of an unknown call: warning, or error with the fatal flag', async (t) => {
  const { ng } = await startRelay(t);
  const warn = await ng.request({ command: 'delete', 'call-id': 'nope', 'from-tag': 'x' });
  t.equal(warn.result, 'ok');
  t.equal(warn.warning, "Call-ID not found or tags didn't match");
  const fatal = await ng.request({ command: 'delete', 'call-id': 'nope', 'from-tag': 'x', flags: ['fatal'] });
  t.equal(fatal.result, 'error');
  t.equal(fatal['error-reason'], "Call-ID not found or tags didn't match");
  t.notOk('warning' in fatal, 'error replies carry only result and error-reason');
});

t.test('delete by call-id only, by from-tag, by to-tag', async (t) => {
  const { ng } = await startRelay(t);
  for (const [id, keys] of [
    ['d1', {}],
    ['d2', { 'from-tag': 'A' }],
    ['d3', { 'from-tag': 'A', 'to-tag': 'B' }],
  ] as const) {
    await ng.request(offer(id));
    await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 8100 }) });
    const res = await ng.request({ command: 'delete', 'call-id': id, 'delete-delay': 0, ...keys });
    t.equal(res.result, 'ok', `${id} deleted`);
    t.notOk(res.warning);
    t.equal((await ng.request({ command: 'query', 'call-id': id })).result, 'error', `${id} gone`);
  }
  await ng.request(offer('d4'));
  const wrongTag = await ng.request({ command: 'delete', 'call-id': 'd4', 'from-tag': 'Z' });
  t.equal(wrongTag.result, 'ok');
  t.equal(wrongTag.warning, "Call-ID not found or tags didn't match", 'unknown tag on a known call warns');
  t.equal((await ng.request({ command: 'query', 'call-id': 'd4' })).result, 'ok', 'and leaves the call alone');
});

t.test('delete-delay keeps the call (and its media) until the delay ends', async (t) => {
  const { ng, relay } = await startRelay(t, { deleteDelay: 30 });
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  await ng.request(offer('dd', alice.port));
  const answer = await ng.request({ command: 'answer', 'call-id': 'dd', 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  const relayPort = relayEndpoints(answer.sdp as string)[0]!.port;
  const deleted: string[] = [];
  relay.on('call:deleted', (e) => deleted.push(`${e.callId}:${e.reason}`));
  t.equal((await ng.request({ command: 'delete', 'call-id': 'dd', 'from-tag': 'A', 'delete delay': 1 })).result, 'ok');
  t.equal((await ng.request({ command: 'query', 'call-id': 'dd' })).result, 'ok', 'still there during the delay');
  await alice.send(rtpPacket(1), relayPort, '127.0.0.1');
  await bob.waitFor(1);
  await expectEngine(t, relay, 'dd', { handshakes: false });
  await sleep(2300);
  t.same(deleted, ['dd:delete']);
  t.equal((await ng.request({ command: 'query', 'call-id': 'dd' })).result, 'error');
  t.ok(await freed(relayPort), 'ports freed after the delay');
});

t.test('no media for `timeout` seconds deletes an answered call and frees ports; ringing calls wait for offer-timeout', async (t) => {
  const relay = new Relay({ ...(await mediaPorts()), timeout: 1, offerTimeout: 3600 });
  t.teardown(() => relay.close());
  const events: string[] = [];
  relay.on('timeout', (e) => events.push(`timeout:${e.callId}`));
  relay.on('call:deleted', (e) => events.push(`deleted:${e.callId}:${e.reason}`));
  const { sdp } = await relay.offer({ callId: 'to', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9000 }) });
  await relay.answer({ callId: 'to', fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 9002 }) });
  await relay.offer({ callId: 'ringing', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9004 }) });
  const port = relayEndpoints(sdp)[0]!.port;
  t.notOk(await canBind(port), 'port held while the call lives');
  await sleep(2600);
  t.same(events, ['timeout:to', 'deleted:to:timeout']);
  t.same(relay.list(), ['ringing'], 'an unanswered call is ringing, not dead');
  t.ok(await freed(port));
  t.equal((await relay.statistics()).timeoutSessions, 1);
});

t.test('offer-timeout ends a call that is never answered', async (t) => {
  const relay = new Relay({ ...(await mediaPorts()), timeout: 3600, offerTimeout: 1 });
  t.teardown(() => relay.close());
  const ended: string[] = [];
  relay.on('call:deleted', (e) => ended.push(`${e.callId}:${e.reason}`));
  await relay.offer({ callId: 'never', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9006 }) });
  await sleep(2600);
  t.same(ended, ['never:timeout']);
});

t.test('media keeps a call alive past the timeout', async (t) => {
  const relay = new Relay({ ...(await mediaPorts()), timeout: 1 });
  t.teardown(() => relay.close());
  const alice = await Phone.open();
  t.teardown(() => alice.close());
  await relay.offer({ callId: 'alive', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const { sdp } = await relay.answer({ callId: 'alive', fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 9100 }) });
  const port = relayEndpoints(sdp)[0]!.port;
  for (let i = 0; i < 12; i++) {
    await alice.send(rtpPacket(i), port, '127.0.0.1');
    await sleep(200);
  }
  t.same(relay.list(), ['alive']);
  await expectEngine(t, relay, 'alive', { handshakes: false });
});

t.test('library API: typed methods and events without the ng server', async (t) => {
  const relay = new Relay({ ...(await mediaPorts()), deleteDelay: 0 });
  t.teardown(() => relay.close());
  const events: string[] = [];
  relay.on('call:created', (e) => events.push(`created:${e.callId}`));
  relay.on('call:deleted', (e) => events.push(`deleted:${e.callId}:${e.reason}`));
  const offered = await relay.offer({ callId: 'lib', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9200 }) });
  t.match(offered.sdp, /^v=0\r\n/);
  await relay.answer({ callId: 'lib', fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 9300 }) });
  const info = await relay.query({ callId: 'lib' });
  t.same(info.tags.map((x) => x.tag).sort(), ['A', 'B']);
  t.equal(info.tags.find((x) => x.tag === 'A')!.inDialogueWith, 'B');
  await t.rejects(relay.answer({ callId: 'missing', fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 1 }) }), { code: 'CALL_NOT_FOUND' });
  await t.rejects(relay.offer({ callId: 'x', fromTag: 'A', sdp: 'garbage' }), { code: 'SDP_INVALID' });
  await t.rejects(relay.query({ callId: 'missing' }), { code: 'CALL_NOT_FOUND' });
  const res = await relay.delete({ callId: 'lib' });
  t.equal(res.call?.callId, 'lib');
  t.same(events, ['created:lib', 'deleted:lib:delete']);
  const stats = await relay.statistics();
  t.equal(stats.managedSessions, 1);
  t.equal(stats.portPairsInUse, 0);
});

t.test('close() frees every port and rejects new signalling', async (t) => {
  const relay = new Relay(await mediaPorts());
  const { sdp } = await relay.offer({ callId: 'c', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9400 }) });
  await relay.close();
  t.ok(await freed(relayEndpoints(sdp)[0]!.port));
  await t.rejects(relay.offer({ callId: 'd', fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 9400 }) }), { code: 'SHUTTING_DOWN' });
});
