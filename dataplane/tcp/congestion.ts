// Congestion control: slow start and the loss responses of RFC 5681, with
// CUBIC (RFC 9438) or Reno in congestion avoidance. Windows are bytes in the
// record (W.CWND, W.SSTHRESH); CUBIC keeps W_max, its epoch, K and the
// Reno-friendly estimate there too, so a moved connection continues with the
// same window instead of restarting from slow start.
import { F, W, recordBase, recordF64 } from './record.js';

export const CC_RENO = 0;
export const CC_CUBIC = 1;

/** RFC 9438 §4.6: multiplicative decrease factor. */
const BETA = 0.7;
/** RFC 9438 §5: C = 0.4 (segments, seconds). */
const C = 0.4;
/** RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

/** RFC 6928: IW = min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** New data `acked` bytes acknowledged outside recovery. */
export function ccOnAck(u: Uint32Array, f: Float64Array, id: number, acked: number, mss: number, now: number, algo: number): void {
  const b = recordBase(id);
  const fb = recordF64(id);
  let cwnd = u[b + W.CWND]!;
  const ssthresh = u[b + W.SSTHRESH]!;
  if (cwnd < ssthresh) {
    // RFC 5681 §3.1 with RFC 3465 byte counting, L = 2·SMSS.
    cwnd += Math.min(acked, 2 * mss);
  } else if (algo === CC_RENO) {
    // RFC 5681 §3.1 eq. 3, per byte acknowledged.
    cwnd += Math.max(1, Math.floor((mss * acked) / cwnd));
  } else {
    if (f[fb + F.CUBIC_EPOCH] === 0) {
      // §4.2: a new congestion-avoidance epoch.
      f[fb + F.CUBIC_EPOCH] = now;
      const wmax = u[b + W.CUBIC_WMAX]!;
      f[fb + F.CUBIC_K] = wmax > cwnd ? Math.cbrt((wmax - cwnd) / mss / C) : 0;
      if (wmax < cwnd) u[b + W.CUBIC_WMAX] = cwnd;
      f[fb + F.CUBIC_WEST] = cwnd;
    }
    const srtt = f[fb + F.SRTT]!;
    const t = (now - f[fb + F.CUBIC_EPOCH]! + srtt) / 1000;
    const k = f[fb + F.CUBIC_K]!;
    const wmaxSeg = u[b + W.CUBIC_WMAX]! / mss;
    let target = (C * (t - k) ** 3 + wmaxSeg) * mss;
    // §4.4: target stays within [cwnd, 1.5·cwnd].
    if (target < cwnd) target = cwnd;
    if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    // §4.3: the Reno-friendly estimate grows by α_cubic segments per window.
    const west = f[fb + F.CUBIC_WEST]! + (ALPHA * mss * acked) / cwnd;
    f[fb + F.CUBIC_WEST] = west;
    if (west > target) cwnd = Math.max(cwnd, Math.floor(west));
    else cwnd += Math.max(1, Math.floor(((target - cwnd) * acked) / cwnd));
  }
  if (cwnd > 0x3fffffff) cwnd = 0x3fffffff;
  u[b + W.CWND] = cwnd;
}

/**
 * A loss detected by duplicate ACKs or SACK (RFC 5681 §3.2 step 2, RFC 9438
 * §4.6–4.7). Sets and returns the new SSTHRESH; the caller sets CWND.
 */
export function ccOnCongestion(u: Uint32Array, f: Float64Array, id: number, flight: number, mss: number, algo: number): number {
  const b = recordBase(id);
  const cwnd = u[b + W.CWND]!;
  let ssthresh: number;
  if (algo === CC_RENO) {
    ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
  } else {
    // §4.7 fast convergence: a flow whose W_max keeps shrinking releases bandwidth.
    const prev = u[b + W.CUBIC_WMAX]!;
    u[b + W.CUBIC_WMAX] = cwnd < prev ? Math.floor((cwnd * (1 + BETA)) / 2) : cwnd;
    ssthresh = Math.max(Math.floor(cwnd * BETA), 2 * mss);
    f[recordF64(id) + F.CUBIC_EPOCH] = 0;
  }
  u[b + W.SSTHRESH] = ssthresh;
  return ssthresh;
}

/** RFC 5681 §3.1 eq. 4 and RFC 9438 §4.8: a retransmission timeout. */
export function ccOnRto(u: Uint32Array, f: Float64Array, id: number, flight: number, mss: number, algo: number): void {
  const b = recordBase(id);
  // Only the first timeout of a series lowers ssthresh (RFC 5681 §3.1 note on eq. 4).
  if (u[b + W.RTX_COUNT] === 0) ccOnCongestion(u, f, id, flight, mss, algo);
  u[b + W.CWND] = mss;
  f[recordF64(id) + F.CUBIC_EPOCH] = 0;
}
