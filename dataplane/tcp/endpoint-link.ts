// The TCP stack's link in a worker: frames are built in the endpoint's home
// slots (after the slot headroom) and queued on the tx ring of the poller the
// connection lives on. EndpointIo.send applies the tx fault injector, if any.
// With offloads (a TAP port opened with them) large segments are built in the
// endpoint's large buffers and the TCP checksum is left to the device.
import type { EndpointIo } from '../endpoint.js';
import type { TcpLink } from './link.js';
import { DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO, LARGE_MAX_FRAME } from '../../shm/layout.js';

export class EndpointTcpLink implements TcpLink {
  readonly bytes: Uint8Array;
  private readonly io: EndpointIo;
  private readonly headroom: number;
  readonly largeFrame: number;
  readonly csumOffload: boolean;
  private readonly csumFlag: number;

  /** `offload`: the port's device finishes checksums and cuts large segments (it needs the endpoint's large buffers). */
  constructor(io: EndpointIo, headroom: number, offload = false) {
    this.io = io;
    this.bytes = io.bytes;
    this.headroom = headroom;
    this.csumOffload = offload;
    this.csumFlag = offload ? DESC_FLAG_CSUM_PARTIAL : 0;
    this.largeFrame = offload && io.largeCount > 0 ? LARGE_MAX_FRAME : 0;
  }

  allocSlot(): number {
    const s = this.io.stack.pop();
    if (s >= 0) return s;
    // Home slots come back through the free rings once pollers sent them.
    return this.io.refill() > 0 ? this.io.stack.pop() : -1;
  }

  allocLarge(): number {
    return this.io.allocLarge();
  }

  frameStart(slot: number): number {
    return this.io.pool.slotBase(slot) + this.headroom;
  }

  transmit(slot: number, len: number, poller: number, gsoSize = 0): boolean {
    if (gsoSize > 0) return this.io.send(poller, slot, this.headroom, len, DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO, gsoSize);
    return this.io.send(poller, slot, this.headroom, len, this.csumFlag);
  }
}
