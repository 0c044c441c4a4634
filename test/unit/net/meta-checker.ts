// Field checkers for FrameMeta, in the spirit of gVisor's checker package:
// `expectMeta(meta, { srcPort: 80, tcpFlags: SYN })` compares every named
// field exactly and reports all mismatches at once.

import * as assert from 'uvu/assert';
import { FrameMeta, parseFrame } from '../../../dataplane/net/frame.js';
import { Reason, reasonName } from '../../../dataplane/net/reason.js';

export type MetaFields = { readonly [K in Exclude<keyof FrameMeta, 'sackBlocks'>]?: number } & {
  /** [left, right] pairs compared against sackBlocks[0 .. 2*sackCount). */
  readonly sack?: readonly (readonly [number, number])[];
};

export function expectMeta(meta: FrameMeta, want: MetaFields): void {
  const bad: string[] = [];
  for (const [key, value] of Object.entries(want)) {
    if (key === 'sack') continue;
    const got = (meta as unknown as Record<string, number>)[key];
    if (got !== value) bad.push(`${key}: got ${String(got)}, want ${String(value)}`);
  }
  if (want.sack !== undefined) {
    if (meta.sackCount !== want.sack.length) bad.push(`sackCount: got ${meta.sackCount}, want ${want.sack.length}`);
    want.sack.forEach(([l, r], i) => {
      if (meta.sackBlocks[2 * i] !== l || meta.sackBlocks[2 * i + 1] !== r) {
        bad.push(`sack block ${i}: got [${meta.sackBlocks[2 * i]}, ${meta.sackBlocks[2 * i + 1]}], want [${l}, ${r}]`);
      }
    });
  }
  assert.ok(bad.length === 0, bad.join('; '));
}

/** Parse `frame` (whole buffer) and assert the reason by name, for readable failures. */
export function expectReason(frame: Uint8Array, verify: number, want: number, meta = new FrameMeta()): FrameMeta {
  const got = parseFrame(frame, 0, frame.length, meta, verify);
  assert.is(reasonName(got), reasonName(want));
  return meta;
}

/** Parse and require OK. */
export function parseOk(frame: Uint8Array, verify: number, meta = new FrameMeta(), off = 0, len = frame.length - off): FrameMeta {
  const got = parseFrame(frame, off, len, meta, verify);
  assert.is(reasonName(got), reasonName(Reason.OK));
  return meta;
}
