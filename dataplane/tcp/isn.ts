// Initial sequence numbers (RFC 6528), SYN cookies and per-connection
// timestamp offsets, all from one keyed hash over the connection's 4-tuple.
//
// The hash is HalfSipHash-2-4 (32-bit words, 64-bit key), the function Linux
// uses as hsiphash: cheap enough for every SYN in a flood, keyed so that an
// off-path attacker cannot predict ISNs (RFC 6528 §3) or forge cookies. A
// full SipHash-2-4 would give a 128-bit key; noted in the closing note.

import { createHash } from 'node:crypto';

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** HalfSipHash-2-4 of the 32-bit words w0..w3 (all four always hashed). */
export function halfSipHash(k0: number, k1: number, w0: number, w1: number, w2: number, w3: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = (0x6c796765 ^ k0) | 0;
  let v3 = (0x74656462 ^ k1) | 0;
  for (let i = 0; i < 5; i++) {
    // Four message words, then the length word (16 bytes << 24).
    const m = i === 0 ? w0 : i === 1 ? w1 : i === 2 ? w2 : i === 3 ? w3 : 16 << 24;
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  }
  return (v1 ^ v3) >>> 0;
}

/** MSS values a cookie can carry (2 bits), largest first when choosing. */
export const COOKIE_MSS = [536, 1220, 1440, 1460] as const;
/** Cookie clock: one tick per 64 s; a cookie is good for the current and previous tick. */
const COOKIE_TICK_MS = 64_000;
/** No window scale option in a cookie. */
export const COOKIE_NO_WSCALE = 15;

export interface CookieOptions {
  mss: number;
  /** 0..14, or -1 when the SYN had no window scale option. */
  wscale: number;
  sackPermitted: number;
}

export class SequenceSecrets {
  private readonly k: Uint32Array;

  /** `key`: four random words (tests pass fixed ones). */
  constructor(key: Uint32Array) {
    if (key.length < 4) throw new RangeError('SequenceSecrets needs 4 key words');
    this.k = Uint32Array.from(key.subarray(0, 4));
  }

  static random(): SequenceSecrets {
    return new SequenceSecrets(crypto.getRandomValues(new Uint32Array(4)));
  }

  /** Secrets every node of a cluster shares: derived from its key (see passiveIsn). */
  static fromKey(key: Uint8Array): SequenceSecrets {
    const d = createHash('sha256').update('baton sequence secrets\0').update(key).digest();
    return new SequenceSecrets(Uint32Array.from([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]));
  }

  /**
   * The ISS answering a client's SYN: F(localip, localport, remoteip,
   * remoteport, secretkey) + the client's ISN. RFC 6528's M (a timer) makes
   * successive incarnations of a 4-tuple increase; here the client's own ISN
   * does, which its stack (RFC 6528 itself) makes increase. Unlike a timer it
   * is the same on every node that shares the secrets: a SYN that two nodes
   * answer around a handover (the old holder just before it lets the address
   * go, the new one from its promiscuous copy of that SYN just after) gets
   * one SYN-ACK twice, and the client's ACK completes the handshake on either
   * — with a timer, the new holder reset the connection the client had
   * completed with the old one. Still unpredictable off-path (F is keyed).
   */
  passiveIsn(localIp: number, localPort: number, remoteIp: number, remotePort: number, clientIsn: number): number {
    const f = halfSipHash(this.k[0]!, this.k[1]!, localIp, remoteIp, (localPort << 16) | remotePort, 0x49534e50);
    return (f + clientIsn) >>> 0;
  }

  /**
   * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
   * M a 4-µs timer. `nowMs` is the caller's clock.
   */
  isn(localIp: number, localPort: number, remoteIp: number, remotePort: number, nowMs: number): number {
    const f = halfSipHash(this.k[0]!, this.k[1]!, localIp, remoteIp, (localPort << 16) | remotePort, 0x49534e00);
    return (f + Math.floor(nowMs * 250)) >>> 0;
  }

  /** RFC 7323 §5.4: a per-connection TSval offset, the same for the same 4-tuple (cookies rely on it). */
  tsOffset(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    return halfSipHash(this.k[2]!, this.k[3]!, localIp, remoteIp, (localPort << 16) | remotePort, 0x54530000);
  }

  /**
   * A SYN cookie to use as ISS: 5 bits of clock, 7 bits of options (MSS
   * index, window scale, SACK-permitted), 20 bits of keyed hash over the
   * tuple, the clock, the options and the client's ISN.
   */
  cookie(localIp: number, localPort: number, remoteIp: number, remotePort: number, clientIsn: number, nowMs: number, o: CookieOptions): number {
    let mssIdx = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
      if (o.mss >= COOKIE_MSS[i]!) {
        mssIdx = i;
        break;
      }
    }
    const ws = o.wscale < 0 ? COOKIE_NO_WSCALE : Math.min(o.wscale, 14);
    const data = (mssIdx << 5) | (ws << 1) | (o.sackPermitted !== 0 ? 1 : 0);
    const t = Math.floor(nowMs / COOKIE_TICK_MS) & 31;
    const h = this.cookieHash(localIp, localPort, remoteIp, remotePort, clientIsn, t, data);
    return ((t << 27) | (data << 20) | (h & 0xfffff)) >>> 0;
  }

  /**
   * Checks the cookie in an ACK (`ack - 1`) for a connection whose client
   * ISN was `seq - 1`; fills `out` and returns true when it is ours and fresh.
   */
  checkCookie(localIp: number, localPort: number, remoteIp: number, remotePort: number, clientIsn: number, cookie: number, nowMs: number, out: CookieOptions): boolean {
    const t = cookie >>> 27;
    const data = (cookie >>> 20) & 0x7f;
    const now = Math.floor(nowMs / COOKIE_TICK_MS) & 31;
    const age = (now - t) & 31;
    if (age > 1) return false;
    const h = this.cookieHash(localIp, localPort, remoteIp, remotePort, clientIsn, t, data);
    if ((h & 0xfffff) !== (cookie & 0xfffff)) return false;
    out.mss = COOKIE_MSS[data >>> 5]!;
    const ws = (data >>> 1) & 15;
    out.wscale = ws === COOKIE_NO_WSCALE ? -1 : ws;
    out.sackPermitted = data & 1;
    return true;
  }

  private cookieHash(localIp: number, localPort: number, remoteIp: number, remotePort: number, clientIsn: number, t: number, data: number): number {
    const a = halfSipHash(this.k[0]!, this.k[3]!, localIp, remoteIp, (localPort << 16) | remotePort, clientIsn);
    return halfSipHash(this.k[1]!, this.k[2]!, a, t, data, 0x434f4f4b);
  }
}
