// The cluster-control frame: an authenticated envelope after the Ethernet
// header (ethertype 0x88b5, IEEE 802 local experimental).
//
//   offset  size  field
//   0       2     magic 0x4263 ('Bc')
//   2       1     wire version (1)
//   3       1     flags: bit 0 HEARTBEAT (the body is a heartbeat in the
//                 fixed layout of messages.ts, not a flatbuffer: the pollers'
//                 heartbeat engine sends and checks these, native/src/cluster_beat.h);
//                 other bits 0
//   4       2     length L of the flatbuffer (big-endian)
//   6       L     Envelope flatbuffer (control/wire/cluster.fbs), or a heartbeat
//   6+L     32    HMAC-SHA256(cluster key, bytes 0 .. 6+L)
//
// The MAC covers the header and the whole flatbuffer, so sender, incarnation
// and sequence number are authenticated before anything else is believed;
// replays are the replay window's job (replay-window.ts).
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export const ETHERTYPE_CLUSTER = 0x88b5;
export const CLUSTER_MAGIC = 0x4263;
export const WIRE_VERSION = 1;
export const SEAL_HEADER_LEN = 6;
export const SEAL_FLAGS_OFFSET = 3;
export const SEAL_FLAG_HEARTBEAT = 1;
export const HMAC_LEN = 32;
/** Largest sealed payload: an Ethernet MTU. */
export const MAX_SEALED_LEN = 1500;

/** Why a received payload was refused (each is a counter in /metrics). */
export type OpenFailure = 'malformed' | 'bad_version' | 'bad_auth';

/**
 * The cluster key as a KeyObject, made once per key: createHmac with raw
 * bytes imports the key again on every call (an idle node seals and opens
 * hundreds of messages a second).
 */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();
function hmacKey(key: Uint8Array): KeyObject {
  let k = keyObjects.get(key);
  if (k === undefined) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return k;
}

/** Header + flatbuffer + MAC, ready to follow an Ethernet header. */
export function seal(key: Uint8Array, envelope: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(SEAL_HEADER_LEN + envelope.length + HMAC_LEN);
  out[0] = CLUSTER_MAGIC >>> 8;
  out[1] = CLUSTER_MAGIC & 0xff;
  out[2] = WIRE_VERSION;
  out[SEAL_FLAGS_OFFSET] = flags & 0xff;
  out[4] = envelope.length >>> 8;
  out[5] = envelope.length & 0xff;
  out.set(envelope, SEAL_HEADER_LEN);
  const mac = createHmac('sha256', hmacKey(key)).update(out.subarray(0, SEAL_HEADER_LEN + envelope.length)).digest();
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
  const want = createHmac('sha256', hmacKey(key)).update(body).digest();
  const got = payload.subarray(SEAL_HEADER_LEN + len, SEAL_HEADER_LEN + len + HMAC_LEN);
  if (!timingSafeEqual(want, got)) return 'bad_auth';
  return payload.slice(SEAL_HEADER_LEN, SEAL_HEADER_LEN + len);
}
