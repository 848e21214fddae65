/**
 * The floor of the signalling bench: a Node ng server that does no work. It answers `ping` with pong
 * and every other request with a canned `ok` and SDP, under the request's cookie, without decoding it.
 * What the bench's clients reach against it is the most any relay in Node can reach with the same
 * transport and clients: the part of a cycle that is not the relay's own processing.
 *
 *   node bench/.build/bench/ng-floor.js HOST:PORT
 */
import { createSocket } from 'node:dgram';

const [host, port] = (process.argv[2] ?? '127.0.0.1:22391').split(':') as [string, string];
const pong = Buffer.from(' d6:result4:ponge');
const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n';
const ok = Buffer.from(` d6:result2:ok3:sdp${sdp.length}:${sdp}e`);
const PING = Buffer.from('4:ping');

const socket = createSocket('udp4');
socket.on('message', (msg, from) => {
  const space = msg.indexOf(32);
  if (space <= 0) return;
  socket.send([msg.subarray(0, space), msg.includes(PING) ? pong : ok], from.port, from.address);
});
socket.bind(Number(port), host);
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
