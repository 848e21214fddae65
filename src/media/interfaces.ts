import type { AddressFamily, InterfaceAddress, LogicalInterface } from '../shared/vocabulary.js';
import { RelayError } from '../errors.js';

/** The configured logical interfaces (`--interface=NAME/ADDR[!ADV]`), looked up by `direction` names. */
export class InterfaceSet {
  private readonly byName = new Map<string, LogicalInterface>();

  constructor(private readonly ordered: readonly LogicalInterface[]) {
    if (ordered.length === 0 || ordered.some((i) => i.addresses.length === 0)) {
      throw new RelayError('CONFIG_INVALID', 'at least one interface with an address is required');
    }
    for (const iface of ordered) this.byName.set(iface.name, iface);
  }

  /** Without a name, the first configured interface is used, as rtpengine does. */
  resolve(name: string | undefined): LogicalInterface {
    if (name === undefined) return this.ordered[0]!;
    const iface = this.byName.get(name);
    if (!iface) throw new RelayError('NO_INTERFACE', `unknown interface '${name}'`);
    return iface;
  }

  /** The first address of the wanted family, else the interface's primary address. */
  address(iface: LogicalInterface, family: AddressFamily | undefined): InterfaceAddress {
    return iface.addresses.find((a) => a.family === family) ?? iface.addresses[0]!;
  }

  hasFamily(iface: LogicalInterface, family: AddressFamily): boolean {
    return iface.addresses.some((a) => a.family === family);
  }
}
