// Replay protection for authenticated control messages: per sender, the
// highest incarnation seen and a sliding window over sequence numbers within
// it (the IPsec anti-replay scheme of RFC 4303 §3.4.3, window 64). A higher
// incarnation is a restart: it resets the window. A lower one is a message
// from a previous life of the sender: stale.

export type ReplayVerdict = 'ok' | 'replayed' | 'stale';

export const REPLAY_WINDOW = 64;

interface SenderWindow {
  incarnation: number;
  /** Highest sequence number accepted in this incarnation. */
  top: number;
  /** Bit i set: sequence number top - i was accepted. */
  seen: bigint;
}

export class ReplayWindow {
  private readonly senders = new Map<number, SenderWindow>();

  /** Checks (and on 'ok' records) one message. Pure: no clock. */
  accept(sender: number, incarnation: number, seq: number): ReplayVerdict {
    const w = this.senders.get(sender);
    if (w === undefined || incarnation > w.incarnation) {
      this.senders.set(sender, { incarnation, top: seq, seen: 1n });
      return 'ok';
    }
    if (incarnation < w.incarnation) return 'stale';
    if (seq > w.top) {
      const shift = seq - w.top;
      w.seen = shift >= REPLAY_WINDOW ? 1n : ((w.seen << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
      w.top = seq;
      return 'ok';
    }
    const back = w.top - seq;
    if (back >= REPLAY_WINDOW) return 'stale';
    const bit = 1n << BigInt(back);
    if ((w.seen & bit) !== 0n) return 'replayed';
    w.seen |= bit;
    return 'ok';
  }

  /** The incarnation last accepted from `sender`, or -1. */
  incarnationOf(sender: number): number {
    return this.senders.get(sender)?.incarnation ?? -1;
  }
}
