// Software segmentation: what a device with TCP segmentation offload does to
// a large IPv4 TCP frame (Linux tcp_gso_segment / inet_gso_segment), in JS.
// The fault injector uses it to act per wire segment on frames that are
// large (TAP offload, both ways) or whose checksum is left partial, and tests
// use it to see exactly what a kernel would put on the wire.
//
// Each segment gets the frame's Ethernet, IPv4 and TCP headers (options
// included, as the kernel copies them), at most `mss` payload bytes, its own
// sequence number, IP total length, IP id (the frame's + segment index) and
// both checksums finished; FIN and PSH only on the last segment, CWR only on
// the first.
import { onesSum, pseudoHeaderSum } from './checksum.js';
import { readU16, writeU16, readU32, writeU32 } from './byte-order.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';
import { IP_PROTO_TCP, IP_PROTO_UDP } from './ipv4.js';
import { TCP_FLAG_FIN, TCP_FLAG_PSH } from './tcp.js';

const TCP_FLAG_CWR = 0x80;

/** Where segments go: slots to build them in (same bytes as the source) and a way to pass each on. */
export interface SegmentSink {
  /** A free slot, or -1 (the remaining segments are lost: counted by the caller). */
  allocSlot(): number;
  /** Absolute index in the bytes where a frame built in `slot` starts. */
  frameStart(slot: number): number;
  deliver(slot: number, len: number): void;
}

/** Offsets of an IPv4 TCP or UDP frame's headers, or null when it is something else (or truncated). */
export function l4Offsets(b: Uint8Array, start: number, len: number): { l3: number; l4: number; proto: number } | null {
  let l3 = 14;
  if (len < l3) return null;
  let type = readU16(b, start + 12);
  if (type === 0x8100) {
    l3 = 18;
    if (len < l3) return null;
    type = readU16(b, start + 16);
  }
  if (type !== ETHERTYPE_IPV4 || len < l3 + 20 || b[start + l3]! >>> 4 !== 4) return null;
  const l4 = l3 + (b[start + l3]! & 0x0f) * 4;
  const proto = b[start + l3 + 9]!;
  if (proto === IP_PROTO_TCP ? len < l4 + 20 : proto === IP_PROTO_UDP ? len < l4 + 8 : true) return null;
  return { l3, l4, proto };
}

/**
 * Finishes, in place, the L4 checksum of a frame whose checksum field holds
 * the pseudo-header sum only (DESC_FLAG_CSUM_PARTIAL): computes it over the
 * whole segment. Returns false when the frame is not IPv4 TCP or UDP.
 */
export function finishChecksum(b: Uint8Array, start: number, len: number): boolean {
  const o = l4Offsets(b, start, len);
  if (o === null) return false;
  const l3 = start + o.l3;
  const l4 = start + o.l4;
  const l4Len = Math.min(readU16(b, l3 + 2) - (o.l4 - o.l3), len - o.l4);
  const field = l4 + (o.proto === IP_PROTO_TCP ? 16 : 6);
  writeU16(b, field, 0);
  let c = ~onesSum(b, l4, l4Len, pseudoHeaderSum(readU32(b, l3 + 12), readU32(b, l3 + 16), o.proto, l4Len)) & 0xffff;
  if (c === 0 && o.proto === IP_PROTO_UDP) c = 0xffff; // RFC 768: 0 means "no checksum"
  writeU16(b, field, c);
  return true;
}

/**
 * Cuts the IPv4 TCP frame at `start` (`len` bytes of `b`) into segments of at
 * most `mss` payload bytes, built in slots from `sink` and delivered in
 * order. Whatever its checksum field held, each segment's is finished. The
 * source frame is left as it was (the caller frees it). Returns the number
 * of segments delivered, or -1 when the frame is not IPv4 TCP; fewer than
 * needed when the sink ran out of slots.
 */
export function segmentTcpFrame(b: Uint8Array, start: number, len: number, mss: number, sink: SegmentSink): number {
  const o = l4Offsets(b, start, len);
  if (o === null || o.proto !== IP_PROTO_TCP || mss <= 0) return -1;
  const l3 = start + o.l3;
  const l4 = start + o.l4;
  const thl = (b[l4 + 12]! >>> 4) * 4;
  const hdr = o.l4 + thl;
  if (hdr > len) return -1;
  // The IP total length bounds the payload (Ethernet padding is not payload).
  const ipEnd = o.l3 + readU16(b, l3 + 2);
  const end = ipEnd < len ? ipEnd : len;
  const payload = end - hdr;
  const count = payload <= 0 ? 1 : Math.ceil(payload / mss);
  const seq0 = readU32(b, l4 + 4);
  const id0 = readU16(b, l3 + 4);
  const flags = b[l4 + 13]!;
  const src = readU32(b, l3 + 12);
  const dst = readU32(b, l3 + 16);
  const ipHl = o.l4 - o.l3;
  let done = 0;
  for (let k = 0; k < count; k++) {
    const slot = sink.allocSlot();
    if (slot < 0) break;
    const at = sink.frameStart(slot);
    const off = k * mss;
    const n = Math.min(mss, payload - off > 0 ? payload - off : 0);
    b.copyWithin(at, start, start + hdr);
    b.copyWithin(at + hdr, start + hdr + off, start + hdr + off + n);
    const s3 = at + o.l3;
    const s4 = at + o.l4;
    writeU16(b, s3 + 2, ipHl + thl + n);
    writeU16(b, s3 + 4, (id0 + k) & 0xffff);
    writeU16(b, s3 + 10, 0);
    writeU16(b, s3 + 10, ~onesSum(b, s3, ipHl, 0) & 0xffff);
    writeU32(b, s4 + 4, (seq0 + off) >>> 0);
    let f = flags;
    if (k !== count - 1) f &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
    if (k !== 0) f &= ~TCP_FLAG_CWR;
    b[s4 + 13] = f;
    const tcpLen = thl + n;
    writeU16(b, s4 + 16, 0);
    writeU16(b, s4 + 16, ~onesSum(b, s4, tcpLen, pseudoHeaderSum(src, dst, IP_PROTO_TCP, tcpLen)) & 0xffff);
    sink.deliver(slot, hdr + n);
    done++;
  }
  return done;
}
