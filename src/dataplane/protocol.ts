/** Messages between the main thread and a forwarding worker. Requests that expect an answer carry `req`. */
import type { AddressFamily } from '../shared/vocabulary.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import type { DtmfTone } from '../dtmf/injector.js';
import type { BindResult, DataPlaneCounters, LearnedEvent, TappedPacket, SecuredEvent, SideConfig, SideId, SideState } from './types.js';

export type ToWorker =
  | { op: 'bind'; req: number; side: SideId; local: string; family: AddressFamily; rtpPort: number; alias: boolean }
  | { op: 'configure'; side: SideId; config: SideConfig }
  | { op: 'restore'; side: SideId; state: SideState }
  | { op: 'release'; side: SideId }
  | { op: 'identity'; identity: DtlsIdentity }
  | { op: 'play'; req: number; side: SideId; tone: DtmfTone }
  | { op: 'read'; req: number; sides: SideId[] }
  | { op: 'lastPackets'; req: number; sides: SideId[] }
  | { op: 'counters'; req: number }
  | { op: 'heap'; req: number }
  | { op: 'close'; req: number };

export type Reply =
  | { req: number; bound: BindResult }
  | { req: number; states: Array<[SideId, SideState]> }
  | { req: number; lastPackets: Float64Array }
  | { req: number; counters: DataPlaneCounters }
  | { req: number; closed: true }
  | { req: number; played: boolean }
  | { req: number; heapUsed: number }
  | { req: number; error: { code: string; message: string } };

export type FromWorker = Reply | ({ event: 'learned' } & LearnedEvent) | ({ event: 'secured' } & SecuredEvent) | ({ event: 'tapped' } & TappedPacket);
