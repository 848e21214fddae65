/** Relay-wide session totals for `statistics`, counted from committed changes. */
import type { CallChange } from './registry.js';

export class SessionTotals {
  managed = 0;
  timeout = 0;
  deleted = 0;
  forced = 0;

  readonly observe = (change: CallChange): void => {
    if (change.kind === 'signalled' && change.created) this.managed++;
    else if (change.kind === 'ended') {
      if (change.reason === 'timeout') this.timeout++;
      else if (change.reason === 'delete') this.deleted++;
      // Operator terminations and shutdowns are rtpengine's "forced" terminations.
      else if (change.reason !== 'standby') this.forced++;
    }
  };
}
