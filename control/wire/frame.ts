// The cluster-control frame: an authenticated envelope after the Ethernet
// header (ethertype 0x88b5, IEEE 802 local experimental).
//
//   offset  size  field
//   0       2     magic 0x4263 ('Bc')
//   2       1     wire version (1)
//   3       1     reserved, 0
//   4       2     length L of the flatbuffer (big-endian)
//   6       L     Envelope flatbuffer (control/wire/cluster.fbs)
//   6+L     32    HMAC-SHA256(cluster key, bytes 0 .. 6+L)
//
// The MAC covers the header and the whole flatbuffer, so sender, incarnation
// and sequence number are authenticated before anything else is believed;
// replays are the replay window's job (replay-window.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const ETHERTYPE_CLUSTER = 0x88b5;
export const CLUSTER_MAGIC = 0x4263;
export const WIRE_VERSION = 1;
export const SEAL_HEADER_LEN = 6;
export const HMAC_LEN = 32;
/** Largest sealed payload: an Ethernet MTU. */
export const MAX_SEALED_LEN = 1500;

/** Why a received payload was refused (each is a counter in /metrics). */
export type OpenFailure = 'malformed' | 'bad_version' | 'bad_auth';

/** Header + flatbuffer + MAC, ready to follow an Ethernet header. */
export function seal(key: Uint8Array, envelope: Uint8Array): Uint8Array {
  const out = new Uint8Array(SEAL_HEADER_LEN + envelope.length + HMAC_LEN);
  out[0] = CLUSTER_MAGIC >>> 8;
  out[1] = CLUSTER_MAGIC & 0xff;
  out[2] = WIRE_VERSION;
  out[3] = 0;
  out[4] = envelope.length >>> 8;
  out[5] = envelope.length & 0xff;
  out.set(envelope, SEAL_HEADER_LEN);
  const mac = createHmac('sha256', key).update(out.subarray(0, SEAL_HEADER_LEN + envelope.length)).digest();
  out.set(mac, SEAL_HEADER_LEN + envelope.length);
  return out;
}

/**
 * Checks a received payload (Ethernet padding after the MAC is allowed) and
 * returns a copy of its flatbuffer, or why it was refused.
 */
export function open(key: Uint8Array, payload: Uint8Array): Uint8Array | OpenFailure {
  if (payload.length < SEAL_HEADER_LEN + HMAC_LEN) return 'malformed';
  if (((payload[0]! << 8) | payload[1]!) !== CLUSTER_MAGIC) return 'malformed';
  if (payload[2] !== WIRE_VERSION) return 'bad_version';
  const len = (payload[4]! << 8) | payload[5]!;
  if (SEAL_HEADER_LEN + len + HMAC_LEN > payload.length) return 'malformed';
  const body = payload.subarray(0, SEAL_HEADER_LEN + len);
  const want = createHmac('sha256', key).update(body).digest();
  const got = payload.subarray(SEAL_HEADER_LEN + len, SEAL_HEADER_LEN + len + HMAC_LEN);
  if (!timingSafeEqual(want, got)) return 'bad_auth';
  return payload.slice(SEAL_HEADER_LEN, SEAL_HEADER_LEN + len);
}
