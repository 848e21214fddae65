/**
 * `--dtmf-log-dest`: every DTMF key press as one UDP datagram of JSON, in rtpengine's format, so the
 * consumers written for rtpengine's DTMF log read ours. Sending never blocks or throws into the
 * relay: a failed send is logged and the press is still reported elsewhere (event, query).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { DtmfInfo } from '../api/requests.js';
import type { Endpoint } from '../shared/vocabulary.js';
import { familyOf } from '../util/address.js';

export interface DtmfLogContext {
  callId: string;
  /** Every tag of the call. */
  tags: string[];
  /** Where the press came from (the participant's address), empty when not known yet. */
  sourceIp: string;
}

export class DtmfLogDestination {
  private readonly socket: Socket;

  constructor(
    private readonly to: Endpoint,
    private readonly log: Logger,
  ) {
    this.socket = createSocket(familyOf(to.address) === 'IP6' ? 'udp6' : 'udp4');
    this.socket.on('error', (err) => this.log.warn({ err }, 'DTMF log socket error'));
    this.socket.unref();
  }

  send(press: DtmfInfo, context: DtmfLogContext): void {
    const body = JSON.stringify({
      callid: context.callId,
      source_tag: press.tag,
      tags: context.tags,
      type: 'DTMF',
      timestamp: Math.floor(press.timestamp / 1000),
      source_ip: context.sourceIp,
      event: press.event,
      duration: press.duration,
      volume: press.volume,
    });
    this.socket.send(body, this.to.port, this.to.address, (err) => {
      if (err) this.log.warn({ err, to: this.to }, 'DTMF log not sent');
    });
  }

  close(): void {
    this.socket.close();
  }
}
