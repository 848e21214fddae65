/** Starts a Relay with its ng server on an ephemeral loopback port, torn down with the test. */
import type { Test } from 'tap';
import { Relay, type RelayDeps } from '../../src/relay.js';
import { NgServer } from '../../src/ng/server.js';
import type { RelayOptions } from '../../src/config/options.js';
import { NgClient } from './ng-client.js';
import { mediaPorts, type PortRange } from './ports.js';

export interface Fixture {
  relay: Relay;
  server: NgServer;
  ng: NgClient;
  ngPort: number;
  /** The media port range the relay allocates from. */
  ports: PortRange;
}

/**
 * The relay's media ports come from `mediaPorts()` (test/helpers/ports.ts), a range no other test or
 * test process uses; `options.portMin`/`portMax` override it for a test that needs a particular range
 * (take that from `mediaPorts(n)` too).
 */
export async function startRelay(t: Test, options: Partial<RelayOptions> = {}, listen = '127.0.0.1:0', deps: RelayDeps = {}): Promise<Fixture> {
  const ports = options.portMin !== undefined && options.portMax !== undefined ? { portMin: options.portMin, portMax: options.portMax } : await mediaPorts();
  const relay = new Relay({ ...options, ...ports }, deps);
  const server = new NgServer(relay, { listen: [listen] });
  const [bound] = await server.start();
  const ng = await NgClient.open(bound!.port, bound!.address);
  t.teardown(async () => {
    ng.close();
    await server.close();
    await relay.close();
  });
  return { relay, server, ng, ngPort: bound!.port, ports };
}
