// ARP ownership policies.
//   unicast   — the holder answers ARP with its own MAC; a node that takes an
//               address over announces it with gratuitous ARP (RFC 5227 §2.3
//               ARP Announcements), repeated so one lost frame does not leave
//               clients pointing at the dead node: at 0 ms and then after each
//               of ANNOUNCE_GAPS_MS.
//   multicast — every node answers ARP for a cluster address with one cluster
//               multicast MAC, so every node receives every frame sent to it
//               (a bridge floods multicast) and only the holder replies; a
//               takeover needs no ARP at all.
import { writeGratuitousArpFrame } from '../dataplane/net/arp.js';

/** RFC 5227 sends two announcements 2 s apart; takeover wants the first ones sooner. */
export const ANNOUNCE_GAPS_MS = [20, 200, 1000, 2000] as const;

/** 03:ba:70:00:hi:lo — locally administered multicast, from the cluster id. */
export function clusterMulticastMac(clusterId: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `03:ba:70:00:${h((clusterId >> 8) & 0xff)}:${h(clusterId & 0xff)}`;
}

interface Pending {
  readonly ip: number;
  next: number;
  sent: number;
}

/** Schedules gratuitous ARP announcements; `due(now)` returns the frames to send now. */
export class ArpAnnouncer {
  private readonly mac: Uint8Array;
  private readonly pending = new Map<number, Pending>();
  announcements = 0;

  constructor(mac: Uint8Array) {
    this.mac = mac;
  }

  /** Starts (or restarts) the announcement series for `ip`. */
  announce(ip: number, now: number): void {
    this.pending.set(ip, { ip, next: now, sent: 0 });
  }

  /** Stops announcing `ip` (it moved on). */
  cancel(ip: number): void {
    this.pending.delete(ip);
  }

  /** The 42-byte frames due at `now`. */
  due(now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const p of this.pending.values()) {
      if (now < p.next) continue;
      const f = new Uint8Array(42);
      writeGratuitousArpFrame(f, 0, this.mac, 0, p.ip);
      out.push(f);
      this.announcements++;
      if (p.sent >= ANNOUNCE_GAPS_MS.length) this.pending.delete(p.ip);
      else p.next = now + ANNOUNCE_GAPS_MS[p.sent++]!;
    }
    return out;
  }

  /** When the next announcement is due (Infinity: none pending). */
  nextDueMs(): number {
    let due = Infinity;
    for (const p of this.pending.values()) if (p.next < due) due = p.next;
    return due;
  }

  ips(): number[] {
    return [...this.pending.keys()];
  }

  get active(): number {
    return this.pending.size;
  }
}
