// The per-worker flow table: 5-tuple → flow id, open addressing with linear
// probing over typed arrays (no objects, no allocation per lookup). Keys are
// stored in canonical order (the lower endpoint first, as the flow hash
// orders them), so both directions of a flow find the same entry; the
// poller's symmetric hash picks the first probe slot.
//
// Deletion uses backward-shift (no tombstones), so probe chains stay short
// under churn. Capacity is fixed at construction: a full table refuses new
// flows (the caller counts FLOW_TABLE_FULL) instead of growing on the hot path.

import { flowHash } from './net/flow-hash.js';

const EMPTY = 0;

export class FlowTable {
  readonly capacity: number;
  private readonly mask: number;
  private readonly ipA: Uint32Array;
  private readonly ipB: Uint32Array;
  /** portA << 16 | portB */
  private readonly ports: Uint32Array;
  /** proto << 24 | 1 (used); 0 = empty. */
  private readonly tag: Uint32Array;
  private readonly ids: Int32Array;
  /** Free flow ids, LIFO. */
  private readonly freeIds: Int32Array;
  private freeTop: number;
  private live = 0;
  /** One past the highest flow id ever handed out (ids are reused LIFO, so this stays near the peak in use). */
  private highWater = 0;
  /** Set by lookup/insert: whether the looked-up tuple is in the stored (A→B) direction. */
  forward = true;

  /** `maxFlows` flows in a table of the next power of two ≥ 2 × maxFlows slots. */
  constructor(maxFlows: number) {
    let cap = 16;
    while (cap < maxFlows * 2) cap *= 2;
    this.capacity = maxFlows;
    this.mask = cap - 1;
    this.ipA = new Uint32Array(cap);
    this.ipB = new Uint32Array(cap);
    this.ports = new Uint32Array(cap);
    this.tag = new Uint32Array(cap);
    this.ids = new Int32Array(cap);
    this.freeIds = new Int32Array(maxFlows);
    for (let i = 0; i < maxFlows; i++) this.freeIds[i] = maxFlows - 1 - i;
    this.freeTop = maxFlows;
  }

  get size(): number {
    return this.live;
  }

  /** Every flow id in use is below this. */
  get idLimit(): number {
    return this.highWater;
  }

  /** Finds the slot of a tuple (or the empty slot ending its chain). Sets `forward`. */
  private probe(hash: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    let a = srcIp >>> 0;
    let b = dstIp >>> 0;
    let pa = srcPort;
    let pb = dstPort;
    this.forward = true;
    if (a > b || (a === b && pa > pb)) {
      a = dstIp >>> 0;
      b = srcIp >>> 0;
      pa = dstPort;
      pb = srcPort;
      this.forward = false;
    }
    const ports = ((pa << 16) | pb) >>> 0;
    const tag = ((proto << 24) | 1) >>> 0;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const t = this.tag[i]!;
      if (t === EMPTY) return i;
      if (t === tag && this.ipA[i] === a && this.ipB[i] === b && this.ports[i] === ports) return i;
      i = (i + 1) & mask;
    }
  }

  /** Flow id of the tuple, or -1. */
  lookup(hash: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const i = this.probe(hash, srcIp, dstIp, srcPort, dstPort, proto);
    return this.tag[i] === EMPTY ? -1 : this.ids[i]!;
  }

  /** Flow id of the tuple, inserting it when absent; -1 when the table is full. */
  lookupOrInsert(hash: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const i = this.probe(hash, srcIp, dstIp, srcPort, dstPort, proto);
    if (this.tag[i] !== EMPTY) return this.ids[i]!;
    if (this.freeTop === 0) return -1;
    const id = this.freeIds[--this.freeTop]!;
    if (id >= this.highWater) this.highWater = id + 1;
    const fwd = this.forward;
    this.ipA[i] = fwd ? srcIp >>> 0 : dstIp >>> 0;
    this.ipB[i] = fwd ? dstIp >>> 0 : srcIp >>> 0;
    this.ports[i] = fwd ? ((srcPort << 16) | dstPort) >>> 0 : ((dstPort << 16) | srcPort) >>> 0;
    this.tag[i] = ((proto << 24) | 1) >>> 0;
    this.ids[i] = id;
    this.live++;
    return id;
  }

  /** Removes a tuple; returns its flow id (now free) or -1. Backward-shift deletion. */
  remove(hash: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    let i = this.probe(hash, srcIp, dstIp, srcPort, dstPort, proto);
    if (this.tag[i] === EMPTY) return -1;
    const id = this.ids[i]!;
    this.freeIds[this.freeTop++] = id;
    this.live--;
    const mask = this.mask;
    // Move later entries of the chain back into the hole when their home slot allows it.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.tag[j] === EMPTY) break;
      const home = this.homeOf(j);
      // Entry j may fill hole i if its home is not cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        this.ipA[i] = this.ipA[j]!;
        this.ipB[i] = this.ipB[j]!;
        this.ports[i] = this.ports[j]!;
        this.tag[i] = this.tag[j]!;
        this.ids[i] = this.ids[j]!;
        i = j;
      }
    }
    this.tag[i] = EMPTY;
    return id;
  }

  private homeOf(j: number): number {
    return this.hashOf(j) & this.mask;
  }

  private hashOf(j: number): number {
    return flowHash(this.ipA[j]!, this.ipB[j]!, this.ports[j]! >>> 16, this.ports[j]! & 0xffff, this.tag[j]! >>> 24);
  }
}
