// The TCP stack's link in a worker: frames are built in the endpoint's home
// slots (after the slot headroom) and queued on the tx ring of the poller the
// connection lives on. EndpointIo.send applies the tx fault injector, if any.
import type { EndpointIo } from '../endpoint.js';
import type { TcpLink } from './link.js';

export class EndpointTcpLink implements TcpLink {
  readonly bytes: Uint8Array;
  private readonly io: EndpointIo;
  private readonly headroom: number;

  constructor(io: EndpointIo, headroom: number) {
    this.io = io;
    this.bytes = io.bytes;
    this.headroom = headroom;
  }

  allocSlot(): number {
    const s = this.io.stack.pop();
    if (s >= 0) return s;
    // Home slots come back through the free rings once pollers sent them.
    return this.io.refill() > 0 ? this.io.stack.pop() : -1;
  }

  frameStart(slot: number): number {
    return this.io.pool.slotBase(slot) + this.headroom;
  }

  transmit(slot: number, len: number, poller: number): void {
    this.io.send(poller, slot, this.headroom, len, 0);
  }
}
