/**
 * What both engines share is described once and checked here: the drop reasons (src/shared/vocabulary.ts
 * and native/drops.h), the learning modes, the kinds of packet copied to the control plane, and the
 * object the addon's configure() takes (src/dataplane/native.ts and native/engine.cc's key list).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import { nativeSideConfig, type EngineClass } from '../src/dataplane/native.js';
import { learningPolicy } from '../src/dataplane/policy.js';
import { TAP_KINDS } from '../src/dataplane/types.js';
import { DROP_REASONS, ENDPOINT_LEARNING } from '../src/shared/vocabulary.js';
import { nativeAddonBuilt, requireTool } from './helpers/tools.js';

const header = readFileSync(new URL('../native/drops.h', import.meta.url), 'utf8');

t.test('native/drops.h lists the shared drop reasons, in order', async (t) => {
  const names = [...header.matchAll(/^\s*X\((\w+)\)/gm)].map((m) => m[1]);
  t.same(names, [...DROP_REASONS]);
});

t.test('the built addon counts the same reasons and takes the config native.ts builds', async (t) => {
  if (!requireTool(t, 'the native addon', nativeAddonBuilt(), 'npx node-gyp rebuild')) return;
  const { Engine } = createRequire(import.meta.url)('../build/Release/rtpbridge_native.node') as { Engine: EngineClass };
  t.same(Engine.dropReasons, [...DROP_REASONS]);
  t.same(Engine.learningModes, [...ENDPOINT_LEARNING]);
  const sample = nativeSideConfig({
    sinks: [2],
    mux: false,
    demux: false,
    policy: learningPolicy('delayed', false, false),
    rtp: null,
    rtcp: null,
    srtp: null,
    ice: null,
    dtls: null,
    dtmf: [101],
    blockDtmf: false,
    detectDtmf: false,
    transcode: [],
    inject: null,
    codecs: [],
    dtmfSecurity: null,
  });
  t.same(Object.keys(sample).sort(), [...Engine.configKeys].sort());
  t.same(Engine.tapKinds, [...TAP_KINDS], 'the kinds of copied packet, numbered alike');
  const engine = new Engine(1, () => undefined, () => undefined);
  t.teardown(() => engine.close());
  t.throws(() => engine.configure(1, { ...sample, extra: true } as never), /unexpected keys/, 'a key the addon does not know is refused');
});
