/** The RTP header (RFC 3550 section 5.1) as far as the relay reads it past the forwarding engines. */

/** RTP fixed header + CSRCs + header extension; -1 if the packet is shorter than its header claims. */
export function rtpHeaderLength(packet: Uint8Array): number {
  if (packet.length < 12) return -1;
  let length = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) return -1;
    length += 4 + ((packet[length + 2]! << 8) | packet[length + 3]!) * 4;
  }
  return length <= packet.length ? length : -1;
}

/** The payload after a header of `header` bytes, without RTP padding (empty when the padding claims more than there is). */
export function rtpPayload(packet: Uint8Array, header: number): Uint8Array {
  const end = packet.length - (packet[0]! & 0x20 ? packet[packet.length - 1]! : 0);
  return packet.subarray(header, Math.max(header, end));
}
