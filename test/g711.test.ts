/** G.711 μ-law and A-law (src/codecs/g711.ts): known code values, every code round trip, bounded error. */
import t from 'tap';
import { decodeG711, encodeG711, type G711Law } from '../src/codecs/g711.js';

const codes = Uint8Array.from({ length: 256 }, (_, i) => i);

t.test('known values (ITU-T G.711 tables)', async (t) => {
  t.same([...decodeG711('PCMU', Uint8Array.of(0xff, 0x7f, 0x80, 0x00, 0xf0, 0x70))], [0, 0, 32124, -32124, 120, -120]);
  t.same([...decodeG711('PCMA', Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a, 0xd4, 0x54))], [8, -8, 32256, -32256, 24, -24]);
  t.same([...encodeG711('PCMU', Int16Array.of(0, 32767, -32768))], [0xff, 0x80, 0x00]);
  t.same([...encodeG711('PCMA', Int16Array.of(0, 32767, -32768))], [0xd5, 0xaa, 0x2a]);
});

for (const law of ['PCMU', 'PCMA'] as G711Law[]) {
  t.test(`${law}: every code decodes and encodes back; every sample within its step`, async (t) => {
    const back = encodeG711(law, decodeG711(law, codes));
    // μ-law has two zeros (0xff and 0x7f); one of them comes back as the other.
    t.equal(codes.filter((c) => back[c] !== c).length, law === 'PCMU' ? 1 : 0);
    const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
    const decoded = decodeG711(law, encodeG711(law, all));
    let worst = 0;
    for (let i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(decoded[i]! - all[i]!) / Math.max(256, Math.abs(all[i]!)));
    t.ok(worst < 0.07, `worst error ${(worst * 100).toFixed(1)} % of the sample (at least of 256)`);
    t.ok(decoded.every((v, i) => i === 0 || v >= decoded[i - 1]!), 'a louder sample never decodes quieter');
  });
}
