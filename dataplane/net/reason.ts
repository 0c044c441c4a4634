// Reason codes for every way a frame can be refused by the wire codecs.
//
// Parsers never throw on bad input: they return one of these numbers (0 = OK)
// and the caller bumps `counters[reason]`, so every drop has a named counter
// (STYLE.md habit 3). Codes are dense (0..REASON_COUNT-1) so a Uint32Array or
// Float64Array indexed by reason is the counter table; `reasonName` gives the
// name that /metrics and `baton status` print. Never renumber: the native
// poller and saved metrics may know these numbers.

export const Reason = {
  OK: 0,
  /** `off`/`len` passed to parseFrame lie outside the buffer. */
  FRAME_BAD_BOUNDS: 1,

  /** Shorter than the Ethernet header (14 bytes, 18 with an 802.1Q tag). */
  ETH_TRUNCATED: 2,
  /** 802.1ad (0x88a8) or a second 802.1Q tag: stacked VLANs are not handled. */
  ETH_QINQ: 3,
  /** EtherType other than IPv4 or ARP (IPv6, LLDP, …). */
  ETH_UNSUPPORTED_TYPE: 4,

  /** Fewer than the 28 bytes of an Ethernet/IPv4 ARP packet. */
  ARP_TRUNCATED: 5,
  /** ARP for something other than Ethernet (htype 1, hlen 6) / IPv4 (0x0800, plen 4). */
  ARP_UNSUPPORTED: 6,
  /** ARP opcode other than request (1) or reply (2). */
  ARP_BAD_OP: 7,

  /** Fewer than 20 bytes for the IPv4 header. */
  IPV4_TRUNCATED: 8,
  /** Version field is not 4. */
  IPV4_BAD_VERSION: 9,
  /** IHL below 5, or the IHL*4 header runs past the frame. */
  IPV4_BAD_IHL: 10,
  /** Total length below IHL*4 or beyond the bytes the frame holds. */
  IPV4_BAD_TOTAL_LEN: 11,
  /** Header checksum wrong (only when VERIFY_IP_CSUM is asked). */
  IPV4_BAD_CHECKSUM: 12,
  /** MF set or fragment offset non-zero: fragments are counted and dropped. */
  IPV4_FRAGMENT: 13,
  /** IP protocol other than ICMP, TCP or UDP. */
  IPV4_UNSUPPORTED_PROTO: 14,

  /** Fewer than 8 bytes of ICMP. */
  ICMP_TRUNCATED: 15,
  /** ICMP checksum wrong (only when VERIFY_L4_CSUM is asked). */
  ICMP_BAD_CHECKSUM: 16,

  /** Fewer than 8 bytes of UDP header. */
  UDP_TRUNCATED: 17,
  /** UDP length below 8 or beyond the IP payload. */
  UDP_BAD_LEN: 18,
  /** UDP checksum non-zero and wrong (only when VERIFY_L4_CSUM is asked). */
  UDP_BAD_CHECKSUM: 19,

  /** Fewer than 20 bytes of TCP header. */
  TCP_TRUNCATED: 20,
  /** Data offset below 5 words or beyond the IP payload. */
  TCP_BAD_DATA_OFFSET: 21,
  /** TCP checksum wrong (only when VERIFY_L4_CSUM is asked). */
  TCP_BAD_CHECKSUM: 22,
  /** Option length 0 or 1, or wrong for its kind (MSS 4, WS 3, SACK-permitted 2, SACK 2+8n, TS 10). */
  TCP_OPT_BAD_LEN: 23,
  /** Option (or its length byte) runs past the data offset. */
  TCP_OPT_OVERRUN: 24,
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

const names: string[] = [];
for (const key of Object.keys(Reason) as (keyof typeof Reason)[]) names[Reason[key]] = key;

/** Number of reason codes: size of a per-reason counter table. */
export const REASON_COUNT: number = names.length;

/** Name of a reason code (`'TCP_OPT_OVERRUN'`), or `'UNKNOWN'` for a number that is none. */
export function reasonName(code: number): string {
  const name = names[code];
  return name === undefined ? 'UNKNOWN' : name;
}
