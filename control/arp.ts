// ARP on the control thread (RFC 826): answer requests for the node's
// addresses and keep a neighbour cache, merged from every ARP packet whose
// sender we already know or that is addressed to us (the RFC's "merge flag").
// Frames arrive on the control endpoint's rx rings; replies go out in place.
// Which addresses it answers for, and with which MAC, is the cluster's call
// (ArpOwner: the owned-address table, unicast or multicast ARP policy);
// cluster-control frames (ethertype 0x88b5) on the same rings go to the
// cluster layer.
import type { EndpointIo } from '../dataplane/endpoint.js';
import { FrameMeta, parseFrame, VERIFY_NONE } from '../dataplane/net/frame.js';
import { ETHERTYPE_ARP, ETH_HEADER_LEN, ETH_SRC, ETH_TYPE, copyMac, macToString } from '../dataplane/net/ethernet.js';
import { ETHERTYPE_CLUSTER } from './wire/frame.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, arpSenderMacOff, writeArpReplyFrame } from '../dataplane/net/arp.js';
import { Reason } from '../dataplane/net/reason.js';
import { Drop } from '../dataplane/drops.js';
import { DESC_DATA, DESC_HASH, DESC_LEN_MASK, DESC_META, DESC_OFFSET_MASK, DESC_SLOT } from '../shm/layout.js';

export interface NeighbourEntry {
  readonly mac: string;
  readonly updatedMs: number;
}

export interface ArpOwner {
  /** The MAC to answer ARP for `ip` with, or null when this node does not answer for it now. */
  arpMacFor(ip: number): Uint8Array | null;
}

/**
 * Receives one cluster-control payload (a copy of the bytes after the Ethernet
 * header) and the poller's arrival stamp (shm/layout.ts DESC_HASH).
 */
export type ClusterFrameSink = (payload: Uint8Array, arrivalMono: number) => void;

export class ArpResponder {
  readonly cache = new Map<number, NeighbourEntry>();
  requestsAnswered = 0;
  private readonly meta = new FrameMeta();
  private readonly mac: Uint8Array;
  private readonly owner: ArpOwner;
  private readonly io: EndpointIo;
  private readonly drops: Float64Array;
  private readonly now: () => number;
  /** Set by the cluster layer; until then cluster frames are counted as NO_HANDLER. */
  clusterSink: ClusterFrameSink | null = null;

  constructor(io: EndpointIo, mac: Uint8Array, owner: ArpOwner, drops: Float64Array, now: () => number = Date.now) {
    this.io = io;
    this.mac = mac;
    this.owner = owner;
    this.drops = drops;
    this.now = now;
  }

  /** Drains every control rx ring; returns how many frames were handled. */
  drain(): number {
    const io = this.io;
    let total = 0;
    for (let p = 0; p < io.pollers; p++) {
      const rx = io.rings[p]!.rx;
      for (;;) {
        const n = rx.available(64);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const k = rx.index(i);
          this.handle(p, rx.desc[k + DESC_SLOT]!, rx.desc[k + DESC_DATA]! & DESC_OFFSET_MASK, rx.desc[k + DESC_META]! & DESC_LEN_MASK, rx.desc[k + DESC_HASH]!);
        }
        rx.release(n);
        total += n;
      }
    }
    io.refill();
    io.flush();
    return total;
  }

  private handle(poller: number, slot: number, offset: number, len: number, stamp: number): void {
    const io = this.io;
    const b = io.bytes;
    const start = io.pool.slotBase(slot) + offset;
    const m = this.meta;
    if (len > ETH_HEADER_LEN && ((b[start + ETH_TYPE]! << 8) | b[start + ETH_TYPE + 1]!) === ETHERTYPE_CLUSTER) {
      if (this.clusterSink === null) this.drops[Drop.NO_HANDLER] += 1;
      else this.clusterSink(b.slice(start + ETH_HEADER_LEN, start + len), stamp);
      io.freeSlot(slot, poller);
      return;
    }
    const r = parseFrame(b, start, len, m, VERIFY_NONE);
    if (r !== Reason.OK || m.etherType !== ETHERTYPE_ARP) {
      this.drops[r !== Reason.OK ? r : Drop.NO_HANDLER] += 1;
      io.freeSlot(slot, poller);
      return;
    }
    const sender = m.srcIp;
    const shaOff = arpSenderMacOff(m.l3Off);
    const answerMac = this.owner.arpMacFor(m.dstIp);
    const forUs = answerMac !== null;
    // RFC 826: update an existing entry; add one only when the packet is for us.
    if (sender !== 0 && (forUs || this.cache.has(sender))) {
      this.cache.set(sender, { mac: macToString(b, shaOff), updatedMs: this.now() });
    }
    if (m.arpOp === ARP_OP_REQUEST && forUs && sender !== m.dstIp) {
      // Reply in place: the slot came from this poller's rx queue and goes back out through it.
      const peerMac = b.slice(shaOff, shaOff + 6);
      const frameLen = writeArpReplyFrame(b, start, answerMac, 0, m.dstIp, peerMac, 0, sender);
      // Under the multicast ARP policy the answer names the cluster MAC; the frame still comes from ours.
      if (answerMac !== this.mac) copyMac(b, start + ETH_SRC, this.mac, 0);
      io.send(poller, slot, offset, Math.max(frameLen, 60), 0);
      this.requestsAnswered++;
      return;
    }
    if (m.arpOp !== ARP_OP_REQUEST && m.arpOp !== ARP_OP_REPLY) this.drops[Reason.ARP_BAD_OP] += 1;
    io.freeSlot(slot, poller);
  }
}
