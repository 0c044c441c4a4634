// What the TCP stack needs from the I/O layer: slots to build frames in and
// a way to send them. In a worker it is the endpoint's home-slot stack and tx
// rings; in packet-level tests it is a fake that parses what was sent.
//
// Offloads (a TAP port opened with port.offload, shm/layout.ts DESC_FLAG_GSO):
// a link with `largeFrame` > 0 also hands out large buffers and takes TCP
// segments longer than the MSS (transmit with a gsoSize: the device cuts them
// into gsoSize-byte segments); one with `csumOffload` takes frames whose TCP
// checksum field holds only the pseudo-header sum. Without them (DPDK,
// AF_PACKET, a link with a fault injector that must see finished frames…)
// the stack sends wire-size, fully checksummed segments as always.

export interface TcpLink {
  /** The buffer every slot lives in. */
  readonly bytes: Uint8Array;
  /** A free slot, or -1 when none is free (the stack counts the drop). */
  allocSlot(): number;
  /** Absolute index in `bytes` where a frame built in `slot` starts (after headroom). */
  frameStart(slot: number): number;
  /**
   * Sends `len` bytes at frameStart(slot) on `poller`; the slot is the link's
   * again. gsoSize > 0 (only with largeFrame): a segment longer than the MSS
   * for the device to cut into gsoSize-byte segments. Returns false when the
   * link dropped it (its tx ring full): the stack takes it as not sent, and
   * sends again shortly, as when no slot was free.
   */
  transmit(slot: number, len: number, poller: number, gsoSize?: number): boolean | void;
  /** Largest frame a large buffer holds; 0 or absent: no large segments. */
  readonly largeFrame?: number;
  /** The device finishes TCP checksums: frames carry the pseudo-header sum (a tx fault injector finishes them itself). */
  readonly csumOffload?: boolean;
  /** A free large buffer (its slot index), or -1 (the stack falls back to MSS-size segments). */
  allocLarge?(): number;
}
