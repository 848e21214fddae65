/** SDP bodies as SIP phones and FreeSWITCH send them. */
export interface SdpSpec {
  address: string;
  port: number;
  video?: number;
  rtcpMux?: boolean;
  sessionConnection?: boolean;
  extra?: string[];
  version?: number;
  /** m= transport protocol, RTP/AVP unless given. */
  protocol?: string;
}

export function phoneSdp(spec: SdpSpec): string {
  const ip = spec.address.includes(':') ? 'IP6' : 'IP4';
  const c = `c=IN ${ip} ${spec.address}`;
  const session = spec.sessionConnection ?? true;
  const lines = [
    'v=0',
    `o=phone 1234 ${spec.version ?? 1} IN ${ip} ${spec.address}`,
    's=call',
    ...(session ? [c] : []),
    't=0 0',
    `m=audio ${spec.port} ${spec.protocol ?? 'RTP/AVP'} 0 8 101`,
    ...(session ? [] : [c]),
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    ...(spec.rtcpMux ? ['a=rtcp-mux'] : []),
    ...(spec.extra ?? []),
    'a=sendrecv',
  ];
  if (spec.video !== undefined) {
    lines.push(`m=video ${spec.video} RTP/AVP 96`, ...(session ? [] : [c]), 'a=rtpmap:96 H264/90000', 'a=sendrecv');
  }
  return crlf(lines);
}

/** The media port and connection address the relay put into an SDP, per m= line. */
export function relayEndpoints(sdp: string): Array<{ type: string; port: number; address: string; rtcpPort?: number }> {
  const out: Array<{ type: string; port: number; address: string; rtcpPort?: number }> = [];
  let sessionAddr = '';
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^m=(\w+) (\d+) /.exec(line);
    const c = /^c=IN IP[46] (\S+)/.exec(line);
    const rtcp = /^a=rtcp:(\d+)/.exec(line);
    if (m) out.push({ type: m[1]!, port: Number(m[2]), address: sessionAddr });
    else if (c && out.length === 0) sessionAddr = c[1]!;
    else if (c) out[out.length - 1]!.address = c[1]!;
    else if (rtcp && out.length > 0) out[out.length - 1]!.rtcpPort = Number(rtcp[1]);
  }
  return out;
}

export const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

/** A FreeSWITCH offer as it arrives from a PBX, with an explicit a=rtcp. */
export const FREESWITCH_OFFER = [
  'v=0',
  'o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.10',
  's=FreeSWITCH',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 16384 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  'a=rtcp:16385 IN IP4 192.0.2.10',
];
