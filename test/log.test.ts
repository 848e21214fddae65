/** Log lines: JSON for collectors, readable lines on a terminal. */
import t from 'tap';
import { readableLine } from '../src/log.js';

t.test('a JSON log line read as a person would', async (t) => {
  const line = readableLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 1, 234), pid: 1, hostname: 'h', name: 'rtpbridge', msg: 'call timed out', callId: 'a b', answered: true, err: { message: 'boom', stack: 'x' } }));
  t.equal(line, '12:00:01.234 WARN  call timed out callId="a b" answered=true err="boom"\n');
  t.equal(readableLine('not json\n'), 'not json\n', 'anything else passes unchanged');
});
