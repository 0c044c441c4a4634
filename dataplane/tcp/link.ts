// What the TCP stack needs from the I/O layer: slots to build frames in and
// a way to send them. In a worker it is the endpoint's home-slot stack and tx
// rings; in packet-level tests it is a fake that parses what was sent.

export interface TcpLink {
  /** The buffer every slot lives in. */
  readonly bytes: Uint8Array;
  /** A free slot, or -1 when none is free (the stack counts the drop). */
  allocSlot(): number;
  /** Absolute index in `bytes` where a frame built in `slot` starts (after headroom). */
  frameStart(slot: number): number;
  /** Sends `len` bytes at frameStart(slot) on `poller`; the slot is the link's again. */
  transmit(slot: number, len: number, poller: number): void;
}
