/** Starts a Relay with its ng server on an ephemeral loopback port, torn down with the test. */
import type { Test } from 'tap';
import { Relay, type RelayDeps } from '../../src/relay.js';
import { NgServer } from '../../src/ng/server.js';
import type { RelayOptions } from '../../src/config/options.js';
import { NgClient } from './ng-client.js';

export interface Fixture {
  relay: Relay;
  server: NgServer;
  ng: NgClient;
  ngPort: number;
}

/**
 * Each test file passes its own `portBase` so files running in parallel never compete for media ports.
 */
export async function startRelay(t: Test, portBase: number, options: Partial<RelayOptions> = {}, listen = '127.0.0.1:0', deps: RelayDeps = {}): Promise<Fixture> {
  const relay = new Relay({ portMin: portBase, portMax: portBase + 199, ...options }, deps);
  const server = new NgServer(relay, { listen: [listen] });
  const [bound] = await server.start();
  const ng = await NgClient.open(bound!.port, bound!.address);
  t.teardown(async () => {
    ng.close();
    await server.close();
    await relay.close();
  });
  return { relay, server, ng, ngPort: bound!.port };
}
