// The flat table of every layout constant, in one deterministic order. It is
// what scripts/gen-c-header.ts turns into `#define BATON_<NAME>` lines and what
// the layout fingerprint hashes, so nothing can reach one without the other:
// adding an UPPER_SNAKE number export to layout.ts, or a counter name to
// counters.ts, changes both the header and the fingerprint.
import * as layout from './layout.js';
import { COUNTER_BYTES, ENDPOINT_COUNTER_NAMES, POLLER_COUNTER_NAMES } from './counters.js';

export interface LayoutConstant {
  readonly name: string;
  readonly value: number;
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;

function build(): readonly LayoutConstant[] {
  const out: LayoutConstant[] = [];
  const seen = new Set<string>();
  const add = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new RangeError(`layout constant ${name} = ${value} is not a u32`);
    }
    if (seen.has(name)) throw new RangeError(`layout constant ${name} defined twice`);
    seen.add(name);
    out.push({ name, value });
  };
  // Module namespace keys come in code-point order, which is deterministic.
  for (const [name, value] of Object.entries(layout)) {
    if (typeof value === 'number' && UPPER_SNAKE.test(name)) add(name, value);
  }
  add('COUNTER_BYTES', COUNTER_BYTES);
  add('ENDPOINT_COUNTERS', ENDPOINT_COUNTER_NAMES.length);
  ENDPOINT_COUNTER_NAMES.forEach((n, i) => add(`ENDPOINT_CTR_${n.toUpperCase()}`, i));
  add('POLLER_COUNTERS', POLLER_COUNTER_NAMES.length);
  POLLER_COUNTER_NAMES.forEach((n, i) => add(`POLLER_CTR_${n.toUpperCase()}`, i));
  return Object.freeze(out);
}

/** Every layout constant, without the `BATON_` prefix the C header adds. */
export const LAYOUT_CONSTANTS: readonly LayoutConstant[] = build();

/** FNV-1a (32-bit) over `NAME=value\n` for every constant, in table order. */
function fingerprint(table: readonly LayoutConstant[]): number {
  let h = 0x811c9dc5;
  for (const { name, value } of table) {
    const line = `${name}=${value}\n`;
    for (let i = 0; i < line.length; i++) {
      h ^= line.charCodeAt(i);
      h = Math.imul(h, 0x0100_0193);
    }
  }
  return h >>> 0;
}

/** Stored in DIR_FINGERPRINT and emitted as BATON_LAYOUT_FINGERPRINT. */
export const LAYOUT_FINGERPRINT = fingerprint(LAYOUT_CONSTANTS);
