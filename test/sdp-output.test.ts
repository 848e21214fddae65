/**
 * The SDP rtpbridge sends on, against what Debian's rtpengine writes for the same request: every m=
 * line states its direction, `generate-mid`, `loop-protect`, the rtcp attribute forms, hold. Compared
 * line by line per section after the relay ports are masked; the differences README lists (rtpengine
 * adds a=rtpmap for static payload types and writes its own attribute order) are the only ones allowed.
 */
import t from 'tap';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { crlf } from './helpers/sdp.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import type { NgClient } from './helpers/ng-client.js';

const session = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const phone = crlf([...session, 'm=audio 4000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20']);

const CASES: Array<[string, string, Record<string, unknown>]> = [
  ['no direction attribute: a=sendrecv', phone, {}],
  ['a session-level direction moves to each m= line', crlf([...session, 'a=sendonly', 'm=audio 4000 RTP/AVP 0', 'm=video 4002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=recvonly']), {}],
  ['inactive stays inactive', crlf([...session, 'm=audio 4000 RTP/AVP 0', 'a=inactive']), {}],
  ['hold with a zero address', crlf([...session, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 0.0.0.0', 'a=sendonly']), {}],
  ['generate-mid', crlf([...session, 'm=audio 4000 RTP/AVP 0', 'm=video 4002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000']), { flags: ['generate-mid'] }],
  ['generate-mid keeps the mids an offer has', crlf([...session, 'm=audio 4000 RTP/AVP 0', 'a=mid:a0', 'm=video 4002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000']), { flags: ['generate-mid'] }],
  ['no-rtcp-attribute', phone, { flags: ['no-rtcp-attribute'] }],
  ['full-rtcp-attribute', phone, { flags: ['full-rtcp-attribute'] }],
  ['loop-protect marks the SDP', phone, { flags: ['loop-protect'] }],
  ['media-address', phone, { 'media-address': '127.0.0.1' }],
];

/** Each section's lines with the relay's ports and loop mark masked, and rtpengine's extra static a=rtpmap dropped. */
function sections(sdp: string, sent: string): string[][] {
  const sentLines = new Set(sent.split('\r\n'));
  return sdp
    .split(/\r\n(?=m=)/)
    .map((section) =>
      section
        .split('\r\n')
        .filter((l) => l !== '' && !(/^a=rtpmap:(\d+) /.exec(l) && Number(/^a=rtpmap:(\d+)/.exec(l)![1]) < 35 && !sentLines.has(l)))
        .map((l) => l.replace(/^(m=\w+) \d+ /, '$1 PORT ').replace(/^a=rtcp:\d+/, 'a=rtcp:PORT').replace(/^a=rtpengine:\w+$/, 'a=rtpengine:MARK'))
        .sort(),
    );
}

t.test('offers through rtpengine and rtpbridge: the same lines in every section', async (t) => {
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin);
  const { ng } = await startRelay(t, await mediaPorts(CASES.length * 8 + 8));
  const offer = (client: NgClient, id: string, sdp: string, extra: Record<string, unknown>) => client.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp, ...extra });
  for (const [label, sdp, extra] of CASES) {
    const [theirs, ours] = [await offer(engine, label, sdp, extra), await offer(ng, label, sdp, extra)];
    t.equal(ours.result, 'ok', label);
    t.same(sections(ours.sdp as string, sdp), sections(theirs.sdp as string, sdp), `${label}: the lines rtpengine writes`);
    await Promise.all([engine, ng].map((client) => client.request({ command: 'delete', 'call-id': label })));
  }
});

t.test('loop-protect: an SDP this relay marked comes back untouched and makes no call; another relay\'s mark does not count', async (t) => {
  const { ng, relay } = await startRelay(t);
  const first = await ng.request({ command: 'offer', 'call-id': 'loop', 'from-tag': 'a', flags: ['loop-protect'], sdp: phone });
  const mark = /\r\na=rtpengine:([0-9a-f]{12})\r\n/.exec(first.sdp as string);
  t.ok(mark, 'the relay marks the SDP it sends on (session level)');
  const looped = await ng.request({ command: 'offer', 'call-id': 'loop-again', 'from-tag': 'a', flags: ['loop-protect'], sdp: first.sdp });
  t.equal(looped.result, 'ok');
  t.equal(looped.sdp, first.sdp, 'the looped SDP is returned as it came');
  t.same(relay.list(), ['loop'], 'and no call was made of it');
  const foreign = (first.sdp as string).replace(mark![1]!, '000000000000');
  const other = await ng.request({ command: 'offer', 'call-id': 'other-mark', 'from-tag': 'a', flags: ['loop-protect'], sdp: foreign });
  t.not(other.sdp, foreign, "another relay's mark: the SDP is relayed");
  t.match(other.sdp, new RegExp(`a=rtpengine:${mark![1]}\\r\\n`), 'and gets this relay\'s mark too');
  const unprotected = await ng.request({ command: 'offer', 'call-id': 'no-flag', 'from-tag': 'a', sdp: first.sdp });
  t.not(unprotected.sdp, first.sdp, 'without the flag a marked SDP is relayed as any other');
});
