/**
 * The slice of STUN (RFC 5389) an ICE-lite agent needs: read a Binding request, check its
 * short-term credentials (MESSAGE-INTEGRITY) and FINGERPRINT, and write the success response.
 * Pure functions over buffers, so the forwarding threads can run them per packet.
 */
import type { Endpoint } from '../shared/vocabulary.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { crc32 } from 'node:zlib';

export const STUN_MAGIC = 0x2112a442;
const HEADER = 20;
const FINGERPRINT_XOR = 0x5354554e;

export const StunType = { BindingRequest: 0x0001, BindingSuccess: 0x0101 } as const;

export const StunAttr = {
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const;

export interface StunAttribute {
  type: number;
  value: Buffer;
}

/** A Binding request whose credentials checked out. */
export interface BindingRequest {
  transactionId: Buffer;
  username: string;
  /** The controlling agent nominates this pair (RFC 8445 §7.1.2). */
  useCandidate: boolean;
}

export type StunRejection = 'malformed' | 'not-binding-request' | 'unknown-username' | 'bad-integrity' | 'bad-fingerprint';

/** RFC 7983 demultiplexing: first byte 0-3, plus the magic cookie so random bytes rarely pass. */
export function looksLikeStun(msg: Buffer): boolean {
  return msg.length >= HEADER && msg[0]! < 4 && msg.readUInt32BE(4) === STUN_MAGIC;
}

/**
 * Checks a Binding request sent to us: USERNAME must start with our ufrag, MESSAGE-INTEGRITY must be
 * keyed with our password (RFC 8445 §7.2.2), and a FINGERPRINT, when present, must match.
 */
export function readBindingRequest(msg: Buffer, localUfrag: string, localPwd: string): BindingRequest | StunRejection {
  const attrs = parseStun(msg);
  if (attrs === undefined) return 'malformed';
  if (msg.readUInt16BE(0) !== StunType.BindingRequest) return 'not-binding-request';
  let username: string | undefined;
  let integrityAt = -1;
  let fingerprintAt = -1;
  let useCandidate = false;
  for (const a of attrs) {
    // Attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are not covered by it: ignore them.
    if (integrityAt >= 0 && a.type !== StunAttr.Fingerprint) continue;
    if (a.type === StunAttr.Username) username = a.value.toString('utf8');
    else if (a.type === StunAttr.UseCandidate) useCandidate = true;
    else if (a.type === StunAttr.MessageIntegrity) integrityAt = a.value.byteOffset - msg.byteOffset - 4;
    else if (a.type === StunAttr.Fingerprint) fingerprintAt = a.value.byteOffset - msg.byteOffset - 4;
  }
  if (fingerprintAt >= 0 && !fingerprintMatches(msg, fingerprintAt)) return 'bad-fingerprint';
  if (username === undefined || !username.startsWith(`${localUfrag}:`)) return 'unknown-username';
  if (integrityAt < 0 || !integrityMatches(msg, integrityAt, localPwd)) return 'bad-integrity';
  return { transactionId: Buffer.from(msg.subarray(8, HEADER)), username, useCandidate };
}

/** The success response: where the request came from, signed with our password, with a FINGERPRINT. */
export function bindingSuccess(request: BindingRequest, from: Endpoint, localPwd: string): Buffer {
  return encodeStun(StunType.BindingSuccess, request.transactionId, [{ type: StunAttr.XorMappedAddress, value: xorAddress(from, request.transactionId) }], localPwd);
}

/** Builds a message; with `integrityKey` it appends MESSAGE-INTEGRITY, and always FINGERPRINT. */
export function encodeStun(type: number, transactionId: Buffer, attributes: readonly StunAttribute[], integrityKey?: string): Buffer {
  const body = Buffer.concat(attributes.map(encodeAttribute));
  const integrityLength = integrityKey === undefined ? 0 : 24;
  const msg = Buffer.alloc(HEADER + body.length + integrityLength + 8);
  msg.writeUInt16BE(type, 0);
  msg.writeUInt32BE(STUN_MAGIC, 4);
  transactionId.copy(msg, 8, 0, 12);
  body.copy(msg, HEADER);
  let at = HEADER + body.length;
  if (integrityKey !== undefined) {
    msg.writeUInt16BE(at + 24 - HEADER, 2);
    const mac = createHmac('sha1', integrityKey).update(msg.subarray(0, at)).digest();
    msg.writeUInt16BE(StunAttr.MessageIntegrity, at);
    msg.writeUInt16BE(20, at + 2);
    mac.copy(msg, at + 4);
    at += 24;
  }
  msg.writeUInt16BE(at + 8 - HEADER, 2);
  msg.writeUInt16BE(StunAttr.Fingerprint, at);
  msg.writeUInt16BE(4, at + 2);
  msg.writeUInt32BE((crc32(msg.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4);
  return msg;
}

/** The attributes, or undefined when the framing is wrong (lengths, padding, cookie). */
export function parseStun(msg: Buffer): StunAttribute[] | undefined {
  if (!looksLikeStun(msg)) return undefined;
  const length = msg.readUInt16BE(2);
  if (length % 4 !== 0 || HEADER + length !== msg.length) return undefined;
  const out: StunAttribute[] = [];
  let at = HEADER;
  while (at < msg.length) {
    if (at + 4 > msg.length) return undefined;
    const type = msg.readUInt16BE(at);
    const len = msg.readUInt16BE(at + 2);
    const end = at + 4 + len;
    if (end > msg.length) return undefined;
    out.push({ type, value: msg.subarray(at + 4, end) });
    at = end + ((4 - (len % 4)) % 4);
  }
  return out;
}

function encodeAttribute(a: StunAttribute): Buffer {
  const padded = Buffer.alloc(4 + a.value.length + ((4 - (a.value.length % 4)) % 4));
  padded.writeUInt16BE(a.type, 0);
  padded.writeUInt16BE(a.value.length, 2);
  a.value.copy(padded, 4);
  return padded;
}

/** RFC 5389 §15.4: HMAC-SHA1 over the message up to the attribute, with the length field ending just after it. */
function integrityMatches(msg: Buffer, at: number, key: string): boolean {
  if (msg.readUInt16BE(at + 2) !== 20) return false;
  const head = Buffer.from(msg.subarray(0, at));
  head.writeUInt16BE(at + 24 - HEADER, 2);
  const mac = createHmac('sha1', key).update(head).digest();
  return timingSafeEqual(mac, msg.subarray(at + 4, at + 24));
}

function fingerprintMatches(msg: Buffer, at: number): boolean {
  if (msg.readUInt16BE(at + 2) !== 4 || at + 8 !== msg.length) return false;
  return ((crc32(msg.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0) === msg.readUInt32BE(at + 4);
}

/** XOR-MAPPED-ADDRESS (RFC 5389 §15.2). */
export function xorAddress(ep: Endpoint, transactionId: Buffer): Buffer {
  const v4 = isIPv4(ep.address);
  const value = Buffer.alloc(v4 ? 8 : 20);
  value[1] = v4 ? 0x01 : 0x02;
  value.writeUInt16BE(ep.port ^ (STUN_MAGIC >>> 16), 2);
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(STUN_MAGIC, 0);
  transactionId.copy(mask, 4, 0, 12);
  const raw = v4 ? Buffer.from(ep.address.split('.').map(Number)) : ipv6Bytes(ep.address);
  for (let i = 0; i < raw.length; i++) value[4 + i] = raw[i]! ^ mask[i]!;
  return value;
}

/** Reads XOR-MAPPED-ADDRESS back (tests and clients check what the relay saw). */
export function readXorAddress(value: Buffer, transactionId: Buffer): Endpoint {
  const v4 = value[1] === 0x01;
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(STUN_MAGIC, 0);
  transactionId.copy(mask, 4, 0, 12);
  const raw = Buffer.from(Array.from(value.subarray(4, v4 ? 8 : 20), (b, i) => b ^ mask[i]!));
  const address = v4 ? [...raw].join('.') : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':');
  return { address, port: value.readUInt16BE(2) ^ (STUN_MAGIC >>> 16) };
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
