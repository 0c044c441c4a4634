// Ethernet II framing with an optional 802.1Q tag (IEEE 802.3 / 802.1Q).
//
//   0      6      12          14
//   | dst  | src  | etherType | payload …                 untagged
//   | dst  | src  | 0x8100 | TCI | etherType | payload …  802.1Q: TCI = PCP:3 DEI:1 VID:12
//
// MAC addresses stay in the buffer: code passes (buffer, offset) pairs and
// copies six bytes when it must (`copyMac`), so no per-packet objects exist.
// The checked parse of this header is the first step of parseFrame (frame.ts).

// Field offsets from the start of the frame.
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const ETH_HEADER_LEN = 14;
// Inside an 802.1Q tag: TPID 0x8100 sits at ETH_TYPE.
export const VLAN_TCI = 14;
export const VLAN_INNER_TYPE = 16;
export const VLAN_HEADER_LEN = 18;

export const MAC_LEN = 6;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

// --- accessors (in place; caller guarantees the bytes exist) -----------------

export function ethType(b: Uint8Array, off: number): number {
  return (b[off + ETH_TYPE] << 8) | b[off + ETH_TYPE + 1];
}

/** VLAN id (12 bits) of a tagged frame. */
export function vlanId(b: Uint8Array, off: number): number {
  return ((b[off + VLAN_TCI] << 8) | b[off + VLAN_TCI + 1]) & 0x0fff;
}

/** Priority code point (3 bits) of a tagged frame. */
export function vlanPcp(b: Uint8Array, off: number): number {
  return b[off + VLAN_TCI] >>> 5;
}

export function isBroadcastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & b[off + 1] & b[off + 2] & b[off + 3] & b[off + 4] & b[off + 5]) === 0xff;
}

/** Group bit (I/G) set: multicast or broadcast. */
export function isMulticastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & 1) === 1;
}

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return a[aOff] === b[bOff] && a[aOff + 1] === b[bOff + 1] && a[aOff + 2] === b[bOff + 2] &&
    a[aOff + 3] === b[bOff + 3] && a[aOff + 4] === b[bOff + 4] && a[aOff + 5] === b[bOff + 5];
}

export function copyMac(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number): void {
  dst[dstOff] = src[srcOff];
  dst[dstOff + 1] = src[srcOff + 1];
  dst[dstOff + 2] = src[srcOff + 2];
  dst[dstOff + 3] = src[srcOff + 3];
  dst[dstOff + 4] = src[srcOff + 4];
  dst[dstOff + 5] = src[srcOff + 5];
}

/** Exchange destination and source MAC in place (reply on the same frame). */
export function swapEthAddresses(b: Uint8Array, off: number): void {
  for (let i = 0; i < MAC_LEN; i++) {
    const t = b[off + ETH_DST + i];
    b[off + ETH_DST + i] = b[off + ETH_SRC + i];
    b[off + ETH_SRC + i] = t;
  }
}

// --- builders -----------------------------------------------------------------

/** Write an untagged Ethernet II header; returns its length (14). */
export function writeEthernet(
  b: Uint8Array, off: number,
  dstMac: Uint8Array, dstMacOff: number, srcMac: Uint8Array, srcMacOff: number,
  etherType: number,
): number {
  copyMac(b, off + ETH_DST, dstMac, dstMacOff);
  copyMac(b, off + ETH_SRC, srcMac, srcMacOff);
  b[off + ETH_TYPE] = etherType >>> 8;
  b[off + ETH_TYPE + 1] = etherType;
  return ETH_HEADER_LEN;
}

/** Write an 802.1Q-tagged Ethernet header (TCI = pcp<<13 | vid); returns its length (18). */
export function writeEthernetVlan(
  b: Uint8Array, off: number,
  dstMac: Uint8Array, dstMacOff: number, srcMac: Uint8Array, srcMacOff: number,
  vid: number, pcp: number, etherType: number,
): number {
  copyMac(b, off + ETH_DST, dstMac, dstMacOff);
  copyMac(b, off + ETH_SRC, srcMac, srcMacOff);
  b[off + ETH_TYPE] = ETHERTYPE_VLAN >>> 8;
  b[off + ETH_TYPE + 1] = ETHERTYPE_VLAN & 0xff;
  const tci = ((pcp & 7) << 13) | (vid & 0x0fff);
  b[off + VLAN_TCI] = tci >>> 8;
  b[off + VLAN_TCI + 1] = tci;
  b[off + VLAN_INNER_TYPE] = etherType >>> 8;
  b[off + VLAN_INNER_TYPE + 1] = etherType;
  return VLAN_HEADER_LEN;
}

// --- text forms (not hot path; these allocate) -----------------------------------

const HEX = '0123456789abcdef';

/** "02:00:5e:10:00:01" for the six bytes at `off`. */
export function macToString(b: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < MAC_LEN; i++) {
    const v = b[off + i];
    if (i > 0) s += ':';
    s += HEX[v >>> 4] + HEX[v & 15];
  }
  return s;
}

/**
 * Parse "aa:bb:cc:dd:ee:ff" (or with '-') into `out` at `outOff`. Returns false,
 * leaving `out` untouched, when the text is not a MAC address.
 */
export function parseMac(text: string, out: Uint8Array, outOff: number): boolean {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(text);
  if (m === null) return false;
  const groups = [m[1], m[3], m[4], m[5], m[6], m[7]];
  for (let i = 0; i < MAC_LEN; i++) out[outOff + i] = parseInt(groups[i], 16);
  return true;
}
