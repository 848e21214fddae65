/** `import ... from 'rtpbridge'` as an embedding service would write it: the package's own exports map. */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { mediaPorts } from './helpers/ports.js';

t.test('the package entry point exposes the typed API', async (t) => {
  const lib = await import('rtpbridge');
  for (const name of ['Relay', 'NgServer', 'RelayError', 'NgProtocolError', 'SdpError', 'ConfigError', 'DEFAULT_RELAY_OPTIONS']) {
    t.ok(name in lib, `exports ${name}`);
  }
  t.ok(existsSync(new URL('../dist/index.d.ts', import.meta.url)), 'type declarations are built');
  // The public declarations name no data-plane internals (the injection point for tests is stripped).
  const declared = readFileSync(new URL('../dist/relay.d.ts', import.meta.url), 'utf8');
  t.notMatch(declared, /DataPlane|RelayDeps|from '\.\/dataplane\//, 'relay.d.ts exposes no data-plane type');
  const relay = new lib.Relay(await mediaPorts());
  t.teardown(() => relay.close());
  await t.rejects(relay.query({ callId: 'none' }), { code: 'CALL_NOT_FOUND' });
  const err = await relay.query({ callId: 'none' }).catch((e: unknown) => e);
  t.ok(err instanceof lib.RelayError, 'errors are instances of the exported class');
});
