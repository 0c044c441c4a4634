// Cluster-control messages as plain objects, and their flatbuffers encoding
// (schema: control/wire/cluster.fbs). Control messages are few per second, so
// decoding into objects is fine here; nothing on a packet path uses this.
// Decoding is total: a buffer that is not a well-formed Envelope (a peer with
// the key but a bug) returns null and is counted by the caller, never thrown.
import * as flatbuffers from 'flatbuffers';
import {
  ArpPolicy, Body as FbBody, Claim as FbClaim, ClaimReason, ConnectionReply as FbConnReply, ConnectionRequest as FbConnRequest,
  Envelope as FbEnvelope, FailDeclaration as FbFail,
  FailoverPolicy, HandoverReply as FbHandoverReply, HandoverRequest as FbHandoverRequest, Heartbeat as FbHeartbeat,
  MemberState, Ownership as FbOwnership, PortRange, Protocol, Solicit as FbSolicit,
} from './gen/cluster_generated.js';

export { ArpPolicy, ClaimReason, FailoverPolicy, MemberState, Protocol };

/** One unit of ownership: an address and a port range of it. */
export interface Unit {
  readonly ip: number;
  readonly lo: number;
  readonly hi: number;
}

/** Who answers for a unit; a max-register ordered by (epoch, holder) (see ownership.ts). */
export interface ClaimRecord extends Unit {
  readonly home: number;
  readonly holder: number;
  readonly epoch: number;
  readonly author: number;
  readonly sinceMs: number;
  readonly reason: ClaimReason;
}

/** A node's ownership information (seed 000 claim 3). */
export interface OwnershipRecord {
  readonly version: number;
  readonly failover: FailoverPolicy;
  readonly backups: readonly number[];
  readonly arp: ArpPolicy;
  readonly protocol: Protocol;
  readonly application: string;
  readonly addresses: readonly number[];
  readonly ports: readonly [number, number];
  /** MACs tied to the addresses, as six-byte groups. */
  readonly macs: readonly string[];
  readonly claims: readonly ClaimRecord[];
}

/** Connections of `ip` to move, narrowed by the non-zero fields (seed 000 claim 10). */
export interface ConnectionSelection {
  readonly ip: number;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
  /** Also move the address's claim once the connections have moved. */
  readonly withAddress: boolean;
}

/** A holder's answer to a ConnectionRequest. */
export interface ConnectionOutcome {
  readonly requestId: number;
  readonly accepted: boolean;
  readonly reason: string;
  readonly selected: number;
  readonly moved: number;
  readonly rejected: number;
  readonly unresolved: number;
  readonly addressMoved: boolean;
}

export type MessageBody =
  | { readonly kind: 'heartbeat'; readonly version: number; readonly state: MemberState }
  | { readonly kind: 'ownership'; readonly record: OwnershipRecord }
  | { readonly kind: 'solicit'; readonly nodes: readonly number[] }
  | { readonly kind: 'fail'; readonly node: number; readonly incarnation: number; readonly byOperator: boolean }
  | { readonly kind: 'handover-request'; readonly requestId: number; readonly unit: Unit }
  | { readonly kind: 'handover-reply'; readonly requestId: number; readonly ip: number; readonly accepted: boolean; readonly reason: string }
  | ({ readonly kind: 'connection-request'; readonly requestId: number } & ConnectionSelection)
  | ({ readonly kind: 'connection-reply' } & ConnectionOutcome);

export interface Message {
  readonly cluster: number;
  readonly sender: number;
  readonly incarnation: number;
  readonly seq: number;
  /** Receiver node id; 0 = every node. */
  readonly to: number;
  readonly body: MessageBody;
}

function macBytes(macs: readonly string[]): number[] {
  const out: number[] = [];
  for (const m of macs) for (const h of m.split(':')) out.push(parseInt(h, 16) & 0xff);
  return out;
}

function macStrings(b: Uint8Array | null): string[] {
  const out: string[] = [];
  if (b === null) return out;
  for (let i = 0; i + 6 <= b.length; i += 6) {
    out.push(Array.from(b.subarray(i, i + 6), (v) => v.toString(16).padStart(2, '0')).join(':'));
  }
  return out;
}

function encodeBody(b: flatbuffers.Builder, body: MessageBody): [FbBody, flatbuffers.Offset] {
  switch (body.kind) {
    case 'heartbeat':
      return [FbBody.Heartbeat, FbHeartbeat.createHeartbeat(b, body.version, body.state)];
    case 'solicit':
      return [FbBody.Solicit, FbSolicit.createSolicit(b, FbSolicit.createNodesVector(b, body.nodes as number[]))];
    case 'fail':
      return [FbBody.FailDeclaration, FbFail.createFailDeclaration(b, body.node, body.incarnation, body.byOperator)];
    case 'handover-request': {
      FbHandoverRequest.startHandoverRequest(b);
      FbHandoverRequest.addRequestId(b, body.requestId);
      FbHandoverRequest.addIp(b, body.unit.ip);
      FbHandoverRequest.addPorts(b, PortRange.createPortRange(b, body.unit.lo, body.unit.hi));
      return [FbBody.HandoverRequest, FbHandoverRequest.endHandoverRequest(b)];
    }
    case 'handover-reply': {
      const reason = b.createString(body.reason);
      return [FbBody.HandoverReply, FbHandoverReply.createHandoverReply(b, body.requestId, body.ip, body.accepted, reason)];
    }
    case 'connection-request':
      return [FbBody.ConnectionRequest, FbConnRequest.createConnectionRequest(b, body.requestId, body.ip, body.localPort, body.remoteIp, body.remotePort, body.withAddress)];
    case 'connection-reply': {
      const reason = b.createString(body.reason);
      return [FbBody.ConnectionReply, FbConnReply.createConnectionReply(b, body.requestId, body.accepted, reason, body.selected, body.moved, body.rejected, body.unresolved, body.addressMoved)];
    }
    case 'ownership': {
      const r = body.record;
      const claims = r.claims.map((c) => {
        FbClaim.startClaim(b);
        FbClaim.addIp(b, c.ip);
        FbClaim.addPorts(b, PortRange.createPortRange(b, c.lo, c.hi));
        FbClaim.addHome(b, c.home);
        FbClaim.addHolder(b, c.holder);
        FbClaim.addEpoch(b, c.epoch);
        FbClaim.addAuthor(b, c.author);
        FbClaim.addSinceMs(b, c.sinceMs);
        FbClaim.addReason(b, c.reason);
        return FbClaim.endClaim(b);
      });
      const claimsV = FbOwnership.createClaimsVector(b, claims);
      const backups = FbOwnership.createBackupsVector(b, r.backups as number[]);
      const app = b.createString(r.application);
      const addrs = FbOwnership.createAddressesVector(b, r.addresses as number[]);
      const macs = FbOwnership.createMacsVector(b, macBytes(r.macs));
      FbOwnership.startOwnership(b);
      FbOwnership.addVersion(b, r.version);
      FbOwnership.addFailover(b, r.failover);
      FbOwnership.addBackups(b, backups);
      FbOwnership.addArp(b, r.arp);
      FbOwnership.addProtocol(b, r.protocol);
      FbOwnership.addApplication(b, app);
      FbOwnership.addAddresses(b, addrs);
      FbOwnership.addPorts(b, PortRange.createPortRange(b, r.ports[0], r.ports[1]));
      FbOwnership.addMacs(b, macs);
      FbOwnership.addClaims(b, claimsV);
      return [FbBody.Ownership, FbOwnership.endOwnership(b)];
    }
  }
}

/** The Envelope flatbuffer of one message. */
export function encodeMessage(m: Message): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const [type, body] = encodeBody(b, m.body);
  b.finish(FbEnvelope.createEnvelope(b, m.cluster, m.sender, m.incarnation, m.seq, m.to, type, body));
  return b.asUint8Array();
}

function isPortRange(lo: number, hi: number): boolean {
  return lo <= hi;
}

function decodeOwnership(o: FbOwnership): OwnershipRecord | null {
  const claims: ClaimRecord[] = [];
  for (let i = 0; i < o.claimsLength(); i++) {
    const c = o.claims(i);
    const p = c?.ports();
    if (c == null || p == null || !isPortRange(p.lo(), p.hi())) return null;
    if (c.reason() > ClaimReason.Resolved || c.home() === 0 || c.holder() === 0 || !Number.isFinite(c.sinceMs())) return null;
    claims.push({
      ip: c.ip(), lo: p.lo(), hi: p.hi(), home: c.home(), holder: c.holder(), epoch: c.epoch(), author: c.author(),
      sinceMs: c.sinceMs(), reason: c.reason(),
    });
  }
  const ports = o.ports();
  if (ports === null || !isPortRange(ports.lo(), ports.hi())) return null;
  if (o.failover() > FailoverPolicy.Spread || o.arp() > ArpPolicy.Multicast || o.protocol() > Protocol.Udp) return null;
  return {
    version: o.version(),
    failover: o.failover(),
    backups: Array.from(o.backupsArray() ?? []),
    arp: o.arp(),
    protocol: o.protocol(),
    application: o.application() ?? '',
    addresses: Array.from(o.addressesArray() ?? []),
    ports: [ports.lo(), ports.hi()],
    macs: macStrings(o.macsArray()),
    claims,
  };
}

function decodeBody(e: FbEnvelope): MessageBody | null {
  switch (e.bodyType()) {
    case FbBody.Heartbeat: {
      const h = e.body(new FbHeartbeat()) as FbHeartbeat | null;
      if (h === null || h.state() > MemberState.Fenced) return null;
      return { kind: 'heartbeat', version: h.version(), state: h.state() };
    }
    case FbBody.Ownership: {
      const o = e.body(new FbOwnership()) as FbOwnership | null;
      const record = o === null ? null : decodeOwnership(o);
      return record === null ? null : { kind: 'ownership', record };
    }
    case FbBody.Solicit: {
      const s = e.body(new FbSolicit()) as FbSolicit | null;
      return s === null ? null : { kind: 'solicit', nodes: Array.from(s.nodesArray() ?? []) };
    }
    case FbBody.FailDeclaration: {
      const f = e.body(new FbFail()) as FbFail | null;
      return f === null ? null : { kind: 'fail', node: f.node(), incarnation: f.incarnation(), byOperator: f.byOperator() };
    }
    case FbBody.HandoverRequest: {
      const r = e.body(new FbHandoverRequest()) as FbHandoverRequest | null;
      const p = r?.ports();
      if (r == null || p == null || !isPortRange(p.lo(), p.hi())) return null;
      return { kind: 'handover-request', requestId: r.requestId(), unit: { ip: r.ip(), lo: p.lo(), hi: p.hi() } };
    }
    case FbBody.HandoverReply: {
      const r = e.body(new FbHandoverReply()) as FbHandoverReply | null;
      if (r === null) return null;
      return { kind: 'handover-reply', requestId: r.requestId(), ip: r.ip(), accepted: r.accepted(), reason: r.reason() ?? '' };
    }
    case FbBody.ConnectionRequest: {
      const r = e.body(new FbConnRequest()) as FbConnRequest | null;
      if (r === null) return null;
      return {
        kind: 'connection-request', requestId: r.requestId(), ip: r.ip(), localPort: r.localPort(), remoteIp: r.remoteIp(),
        remotePort: r.remotePort(), withAddress: r.withAddress(),
      };
    }
    case FbBody.ConnectionReply: {
      const r = e.body(new FbConnReply()) as FbConnReply | null;
      if (r === null) return null;
      return {
        kind: 'connection-reply', requestId: r.requestId(), accepted: r.accepted(), reason: r.reason() ?? '', selected: r.selected(),
        moved: r.moved(), rejected: r.rejected(), unresolved: r.unresolved(), addressMoved: r.addressMoved(),
      };
    }
    default:
      return null;
  }
}

/**
 * Reads an Envelope; null when the bytes are not one. The flatbuffers runtime
 * does not verify, so a malformed buffer can throw RangeError or read nonsense:
 * both end here as null (only authenticated bytes ever reach this).
 */
export function decodeMessage(bytes: Uint8Array): Message | null {
  try {
    if (bytes.length < 8) return null;
    const e = FbEnvelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
    const body = decodeBody(e);
    if (body === null) return null;
    const incarnation = e.incarnation();
    if (!Number.isFinite(incarnation) || incarnation < 0 || e.sender() === 0) return null;
    return { cluster: e.cluster(), sender: e.sender(), incarnation, seq: e.seq(), to: e.to(), body };
  } catch {
    return null;
  }
}

/**
 * Heartbeats have a fixed layout instead of a flatbuffer, so the pollers'
 * heartbeat engine (native/src/cluster_beat.h) can build and check them in C:
 *
 *   0 u32 cluster  4 u16 sender  6 u16 to  8 f64 incarnation
 *   16 u32 seq  20 u32 version  24 u8 state  25..27 zero      (little-endian)
 *
 * It travels sealed with SEAL_FLAG_HEARTBEAT set (control/wire/frame.ts).
 */
export const HEARTBEAT_LEN = 28;

export function encodeHeartbeat(m: Message): Uint8Array {
  if (m.body.kind !== 'heartbeat') throw new TypeError('encodeHeartbeat: not a heartbeat');
  const out = new Uint8Array(HEARTBEAT_LEN);
  const v = new DataView(out.buffer);
  v.setUint32(0, m.cluster, true);
  v.setUint16(4, m.sender, true);
  v.setUint16(6, m.to, true);
  v.setFloat64(8, m.incarnation, true);
  v.setUint32(16, m.seq, true);
  v.setUint32(20, m.body.version, true);
  out[24] = m.body.state;
  return out;
}

/** Reads a fixed-layout heartbeat; null when the bytes are not one. */
export function decodeHeartbeat(bytes: Uint8Array): Message | null {
  if (bytes.length !== HEARTBEAT_LEN) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const incarnation = v.getFloat64(8, true);
  const state = bytes[24]!;
  const sender = v.getUint16(4, true);
  if (!Number.isFinite(incarnation) || incarnation < 0 || sender === 0 || state > MemberState.Fenced) return null;
  return {
    cluster: v.getUint32(0, true), sender, incarnation, seq: v.getUint32(16, true), to: v.getUint16(6, true),
    body: { kind: 'heartbeat', version: v.getUint32(20, true), state },
  };
}
