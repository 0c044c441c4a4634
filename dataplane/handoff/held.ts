// Segments of a connection that arrive while its record is on the way to
// another node: the origin neither answers nor drops them, it keeps a copy
// here and, on the verdict, forwards them to the target (ACCEPT) or feeds
// them to its own stack again (REJECT). Without this every segment the
// client sent during the move is lost and costs the client a retransmission
// timeout. Bounded: HOLD_FRAMES frames per worker; beyond that they are
// dropped and counted (the client retransmits them).
export const HOLD_FRAMES = 128;
const CELL = 2048;
/** The longest frame held (a longer one is dropped: the client sends it again). */
export const HELD_FRAME_MAX = CELL;

export class HeldFrames {
  readonly bytes = new Uint8Array(HOLD_FRAMES * CELL);
  private readonly xid = new Int32Array(HOLD_FRAMES);
  private readonly len = new Int32Array(HOLD_FRAMES);
  private readonly poller = new Int32Array(HOLD_FRAMES);
  private readonly order = new Float64Array(HOLD_FRAMES);
  private readonly free: number[] = [];
  private seq = 0;

  constructor() {
    for (let i = HOLD_FRAMES - 1; i >= 0; i--) this.free.push(i);
  }

  get count(): number {
    return HOLD_FRAMES - this.free.length;
  }

  /** Keeps a copy of frame b[start, start + len) for transfer `xid`; false when full (or too long). */
  hold(xid: number, b: Uint8Array, start: number, len: number, poller: number): boolean {
    if (len > CELL || this.free.length === 0) return false;
    const c = this.free.pop()!;
    this.bytes.set(b.subarray(start, start + len), c * CELL);
    this.xid[c] = xid;
    this.len[c] = len;
    this.poller[c] = poller;
    this.order[c] = ++this.seq;
    return true;
  }

  /** Hands every frame held for `xid` to `visit` (bytes at this.bytes[off, off + len)) in arrival order, and frees them. */
  take(xid: number, visit: ((off: number, len: number, poller: number) => void) | null): number {
    if (this.free.length === HOLD_FRAMES) return 0;
    const cells: number[] = [];
    for (let c = 0; c < HOLD_FRAMES; c++) if (this.xid[c] === xid && this.len[c] > 0) cells.push(c);
    cells.sort((a, b) => this.order[a]! - this.order[b]!);
    for (const c of cells) {
      if (visit !== null) visit(c * CELL, this.len[c]!, this.poller[c]!);
      this.len[c] = 0;
      this.xid[c] = 0;
      this.free.push(c);
    }
    return cells.length;
  }
}
