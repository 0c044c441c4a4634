// The generated C header and the TypeScript layout must agree. A C program,
// compiled here against the generated header, reads an arena file that TS
// wrote using nothing but the header's macros and accessors, prints every
// constant and everything it decodes, then acts as a poller (publishes
// descriptors, returns slots, bumps counters) and writes the arena back for
// TS to read. gcc/cc is a hard prerequisite: a missing compiler fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCHeader, writeCHeader } from '../../../scripts/gen-c-header.js';
import { LAYOUT_CONSTANTS, LAYOUT_FINGERPRINT } from '../../../shm/layout-table.js';
import { attachArena, createArena, planArena } from '../../../shm/arena.js';
import * as layout from '../../../shm/layout.js';
import { ENDPOINT_COUNTER_NAMES, EndpointCounter, POLLER_COUNTER_NAMES, PollerCounter } from '../../../shm/counters.js';

const { DIR_WORDS, RING_KIND_RX, RING_KIND_TX, RING_KIND_FREE_TO_ENDPOINT, SLOT_HEADROOM, descData, descMeta } = layout;

const genScript = fileURLToPath(new URL('../../../scripts/gen-c-header.js', import.meta.url));

function run(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error !== undefined) {
    assert.unreachable(`cannot run ${cmd}: ${r.error.message} (the C toolchain is required; install gcc)`);
  }
  if (r.status !== 0) assert.unreachable(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'baton-shm-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const DIR_FIELDS = Object.entries(layout).filter(
  (e): e is [string, number] => e[0].startsWith('DIR_') && typeof e[1] === 'number' && e[1] < DIR_WORDS && e[0] !== 'DIR_WORDS',
);

// The scenario both sides play. TS as poller 1 sends RX_FRAMES frames to
// endpoint 1; C consumes them, then as poller 0 sends C_FRAMES to endpoint 0
// and returns two of endpoint 1's slots.
const OPTIONS = { workers: 2, pollers: 2, rxRingCapacity: 256, txRingCapacity: 128, poolSlots: 1024 } as const;
const RX_FRAMES = 5;
const C_FRAMES = 4;

function cProgram(): string {
  const constants = [...LAYOUT_CONSTANTS.map((c) => c.name), 'LAYOUT_FINGERPRINT']
    .map((n) => `  printf("C %s %u\\n", "${n}", (unsigned)BATON_${n});`)
    .join('\n');
  const dir = DIR_FIELDS.map(([n]) => `  printf("D %s %u\\n", "${n}", baton_dir_word(a, BATON_${n}));`).join('\n');
  return String.raw`#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "baton_shm.h"

static unsigned char *load(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  long n;
  unsigned char *buf;
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = (unsigned char *)aligned_alloc(4096, ((size_t)n + 4095u) & ~(size_t)4095u);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "read failed\n"); exit(2); }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  size_t size, i;
  unsigned char *a, *bad;
  uint32_t r, o, e, p, n;
  baton_ring_consumer rx;
  baton_ring_producer tx, ret;
  if (argc != 3) return 2;
  a = load(argv[1], &size);
  printf("check %d\n", baton_arena_check(a, size));
  bad = (unsigned char *)aligned_alloc(4096, (size + 4095u) & ~(size_t)4095u);
  memcpy(bad, a, size);
  ((uint32_t *)bad)[BATON_DIR_MAGIC] ^= 1u;
  printf("X magic %d\n", baton_arena_check(bad, size));
  memcpy(bad, a, size);
  ((uint32_t *)bad)[BATON_DIR_FINGERPRINT] ^= 1u;
  printf("X fingerprint %d\n", baton_arena_check(bad, size));
  printf("X size %d\n", baton_arena_check(a, size - 8));
  printf("X misaligned %d\n", baton_arena_check(bad + 4, size));
  memcpy(bad, a, size);
  baton_ring_header(bad, 3)[BATON_RING_HDR_MASK] = 0;
  printf("X ring %d\n", baton_arena_check(bad, size));
  free(bad);
${constants}
${dir}
  for (r = 0; r < baton_dir_word(a, BATON_DIR_RING_COUNT); r++) {
    const uint32_t *t = baton_ring_entry(a, r);
    const uint32_t *h = baton_ring_header(a, r);
    printf("R %u %u %u %u %u %u %u %u %u %u\n", r, t[BATON_RING_ENTRY_OFFSET], t[BATON_RING_ENTRY_CAPACITY],
           t[BATON_RING_ENTRY_DESC_WORDS], t[BATON_RING_ENTRY_KIND], t[BATON_RING_ENTRY_POLLER], t[BATON_RING_ENTRY_ENDPOINT],
           baton_ring_id(a, t[BATON_RING_ENTRY_KIND], t[BATON_RING_ENTRY_POLLER], t[BATON_RING_ENTRY_ENDPOINT]),
           baton_ring_load_head(h), baton_ring_load_tail(h));
  }
  for (o = 0; o < baton_dir_word(a, BATON_DIR_OWNERS); o++) {
    const uint32_t *t = baton_owner_entry(a, o);
    printf("O %u %u %u %u %u %u %u\n", o, t[BATON_OWNER_ENTRY_FIRST_SLOT], t[BATON_OWNER_ENTRY_SLOT_COUNT],
           t[BATON_OWNER_ENTRY_KIND], t[BATON_OWNER_ENTRY_INDEX], baton_slot_home(a, t[BATON_OWNER_ENTRY_FIRST_SLOT]),
           baton_slot_home(a, t[BATON_OWNER_ENTRY_FIRST_SLOT] + t[BATON_OWNER_ENTRY_SLOT_COUNT] - 1u));
  }
  printf("H %u\n", baton_slot_home(a, baton_dir_word(a, BATON_DIR_POOL_SLOTS)));

  /* As endpoint 1's peer: consume what poller 1 (TS) published. */
  baton_ring_consumer_init(&rx, baton_ring_header(a, baton_ring_id(a, BATON_RING_KIND_RX, 1, 1)));
  n = baton_ring_available(&rx, 64);
  for (i = 0; i < n; i++) {
    const uint32_t *d = baton_ring_consumer_desc(&rx, (uint32_t)i);
    const uint32_t meta = d[BATON_DESC_META], data = d[BATON_DESC_DATA];
    const unsigned char *frame = baton_slot(a, d[BATON_DESC_SLOT]) + baton_desc_offset(data);
    printf("F %u %u %u %u %u %u %.*s\n", d[BATON_DESC_SLOT], baton_desc_length(meta), baton_desc_port(meta),
           baton_desc_flags(meta), d[BATON_DESC_HASH], baton_desc_offset(data), 7, (const char *)frame);
  }
  baton_ring_release(&rx, n);

  for (e = 0; e < baton_dir_word(a, BATON_DIR_ENDPOINTS); e++)
    for (i = 0; i < BATON_ENDPOINT_COUNTERS; i++)
      printf("E %u %u %.0f\n", e, (unsigned)i, baton_endpoint_counter(a, e, (uint32_t)i));
  for (p = 0; p < baton_dir_word(a, BATON_DIR_POLLERS); p++)
    for (i = 0; i < BATON_POLLER_COUNTERS; i++)
      printf("P %u %u %llu\n", p, (unsigned)i, (unsigned long long)baton_counter_read(baton_poller_counters(a, p), (uint32_t)i));

  /* As poller 0: publish frames to endpoint 0, return two slots to endpoint 1. */
  baton_ring_producer_init(&tx, baton_ring_header(a, baton_ring_id(a, BATON_RING_KIND_RX, 0, 0)));
  n = baton_ring_reserve(&tx, ${C_FRAMES});
  for (i = 0; i < n; i++) {
    uint32_t *d = baton_ring_producer_desc(&tx, (uint32_t)i);
    uint32_t slot = baton_owner_entry(a, baton_poller_owner(a, 0))[BATON_OWNER_ENTRY_FIRST_SLOT] + (uint32_t)i;
    unsigned char *frame = baton_slot(a, slot) + BATON_SLOT_HEADROOM;
    memcpy(frame, "c-frame", 7);
    frame[7] = (unsigned char)('0' + i);
    d[BATON_DESC_SLOT] = slot;
    d[BATON_DESC_META] = baton_desc_meta(100u + (uint32_t)i, 7u, BATON_DESC_FLAG_CSUM_OK | BATON_DESC_FLAG_HASH_VALID);
    d[BATON_DESC_HASH] = 0xc0ffee00u + (uint32_t)i;
    d[BATON_DESC_DATA] = baton_desc_data(BATON_SLOT_HEADROOM);
  }
  baton_ring_commit(&tx, n);
  baton_ring_producer_init(&ret, baton_ring_header(a, baton_ring_id(a, BATON_RING_KIND_FREE_TO_ENDPOINT, 0, 1)));
  if (baton_ring_reserve(&ret, 2) != 2) return 3;
  baton_ring_producer_desc(&ret, 0)[0] = baton_owner_entry(a, 1)[BATON_OWNER_ENTRY_FIRST_SLOT];
  baton_ring_producer_desc(&ret, 1)[0] = baton_owner_entry(a, 1)[BATON_OWNER_ENTRY_FIRST_SLOT] + 1u;
  baton_ring_commit(&ret, 2);
  baton_counter_add(baton_poller_counters(a, 0), BATON_POLLER_CTR_RX_FRAMES, n);
  baton_counter_add(baton_poller_counters(a, 0), BATON_POLLER_CTR_RX_BYTES, 0x100000000ull + 7u);
  {
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(a, 1, size, f) != size || fclose(f) != 0) { perror(argv[2]); return 2; }
  }
  free(a);
  return 0;
}
`;
}

/** Lines "TAG a b c" grouped by tag. */
function parse(out: string): Map<string, string[][]> {
  const m = new Map<string, string[][]>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [tag, ...rest] = line.split(' ');
    const list = m.get(tag!) ?? [];
    list.push(rest);
    m.set(tag!, list);
  }
  return m;
}

test('the generated header compiles as C11 and as C++17 with warnings as errors', () => {
  withTempDir((dir) => {
    writeCHeader(join(dir, 'baton_shm.h'));
    const src = join(dir, 'use.c');
    writeFileSync(src, '#include "baton_shm.h"\n#include "baton_shm.h"\nint main(void) { return (int)BATON_CACHE_LINE - 64; }\n');
    run('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-fsyntax-only', `-I${dir}`, src]);
    run('c++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-pedantic', '-x', 'c++', '-fsyntax-only', `-I${dir}`, src]);
  });
});

test('C decodes the arena TS wrote using only the header, and TS reads back what C wrote', () => {
  withTempDir((dir) => {
    writeCHeader(join(dir, 'baton_shm.h'));
    writeFileSync(join(dir, 'agree.c'), cProgram());
    const exe = join(dir, 'agree');
    run('cc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-pedantic', `-I${dir}`, join(dir, 'agree.c'), '-o', exe]);

    // --- TS side: build the arena and play poller 1 towards endpoint 1.
    const plan = planArena(OPTIONS);
    const sab = createArena(plan);
    const arena = attachArena(sab);
    const pool = arena.pool;
    const poller1 = arena.pollerRings(1, 1);
    const home1 = pool.firstSlotOf(arena.ownerOfPoller(1));
    for (let i = 0; i < RX_FRAMES; i++) {
      const slot = home1 + i;
      const offset = SLOT_HEADROOM - 2 * i;
      pool.bytes.set(Buffer.from(`frame-${i}`), pool.slotBase(slot) + offset);
      assert.ok(poller1.rx.push(slot, descMeta(60 + i, i, i === 0 ? 0 : 0x80 | i), 0xabc0_0000 + i, descData(offset)));
    }
    // Move another ring's indices off zero.
    const ep0 = arena.endpointRings(0, 0);
    const p0 = arena.pollerRings(0, 0);
    for (let i = 0; i < 3; i++) ep0.tx.push(i);
    while (p0.tx.available(8) !== 0) p0.tx.release(p0.tx.available(8));
    arena.endpointCounters(1).add(EndpointCounter.rx_bytes, 12345);
    arena.endpointCounters(1).add(EndpointCounter.tx_frames, 7);
    arena.pollerCounters(1).add(PollerCounter.rx_frames, 2 ** 40 + 5);
    const inFile = join(dir, 'arena.in');
    const outFile = join(dir, 'arena.out');
    writeFileSync(inFile, new Uint8Array(sab));

    const out = parse(run(exe, [inFile, outFile]));

    // Validation, good and bad.
    assert.equal(out.get('check'), [['0']]);
    assert.equal(out.get('X'), [['magic', '3'], ['fingerprint', '5'], ['size', '6'], ['misaligned', '1'], ['ring', '7']]);
    // Every constant.
    const cConsts = new Map(out.get('C')!.map(([n, v]) => [n!, Number(v)]));
    assert.is(cConsts.size, LAYOUT_CONSTANTS.length + 1);
    for (const c of LAYOUT_CONSTANTS) assert.is(cConsts.get(c.name), c.value, c.name);
    assert.is(cConsts.get('LAYOUT_FINGERPRINT'), LAYOUT_FINGERPRINT);
    // Every directory field.
    const dirWords = new Uint32Array(sab, 0, DIR_WORDS);
    const cDir = new Map(out.get('D')!.map(([n, v]) => [n!, Number(v)]));
    assert.is(cDir.size, DIR_FIELDS.length);
    for (const [name, word] of DIR_FIELDS) assert.is(cDir.get(name), dirWords[word], name);
    assert.is(cDir.get('DIR_POOL_OFFSET'), plan.poolOffset);
    assert.is(cDir.get('DIR_COUNTERS_OFFSET'), plan.countersOffset);
    // Every ring: table entry, id formula, indices.
    const rings = out.get('R')!.map((f) => f.map(Number));
    assert.is(rings.length, plan.rings.length);
    for (const r of plan.rings) {
      const head = r.id === arena.ring(RING_KIND_RX, 1, 1).id ? RX_FRAMES : r.id === arena.ring(RING_KIND_TX, 0, 0).id ? 3 : 0;
      const tail = r.id === arena.ring(RING_KIND_TX, 0, 0).id ? 3 : 0;
      assert.equal(rings[r.id], [r.id, r.offset, r.capacity, r.descWords, r.kind, r.poller, r.endpoint, r.id, head, tail], `ring ${r.id}`);
    }
    // Every owner, and slot homes.
    const owners = out.get('O')!.map((f) => f.map(Number));
    assert.equal(owners, plan.ownerSlots.map((o) => [o.owner, o.firstSlot, o.slotCount, o.kind, o.index, o.owner, o.owner]));
    assert.equal(out.get('H'), [[String(0xffff_ffff)]]);
    // The frames TS published, decoded by C.
    const frames = out.get('F')!;
    assert.is(frames.length, RX_FRAMES);
    frames.forEach((f, i) => {
      assert.equal(f, [
        String(home1 + i), String(60 + i), String(i), String(i === 0 ? 0 : 0x80 | i), String(0xabc0_0000 + i), String(SLOT_HEADROOM - 2 * i), `frame-${i}`,
      ]);
    });
    // Counters, both kinds.
    const ectr = (e: number, i: number) => Number(out.get('E')!.find((f) => f[0] === String(e) && f[1] === String(i))![2]);
    const pctr = (p: number, i: number) => Number(out.get('P')!.find((f) => f[0] === String(p) && f[1] === String(i))![2]);
    assert.is(ectr(1, EndpointCounter.rx_bytes), 12345);
    assert.is(ectr(1, EndpointCounter.tx_frames), 7);
    assert.is(ectr(0, EndpointCounter.rx_bytes), 0);
    assert.is(pctr(1, PollerCounter.rx_frames), 2 ** 40 + 5);
    assert.is(out.get('E')!.length, plan.endpoints * ENDPOINT_COUNTER_NAMES.length);
    assert.is(out.get('P')!.length, plan.pollers * POLLER_COUNTER_NAMES.length);

    // --- Back in TS: attach what C wrote.
    const bytes = readFileSync(outFile);
    const back = new SharedArrayBuffer(bytes.length);
    new Uint8Array(back).set(bytes);
    const again = attachArena(back);
    const ep = again.endpointRings(0, 0);
    const d = new Uint32Array(4);
    const cHome = again.pool.firstSlotOf(again.ownerOfPoller(0));
    for (let i = 0; i < C_FRAMES; i++) {
      assert.ok(ep.rx.pop(d), `frame ${i} from C`);
      assert.is(d[0], cHome + i);
      assert.is(layout.descLength(d[1]!), 100 + i);
      assert.is(layout.descPort(d[1]!), 7);
      assert.is(layout.descFlags(d[1]!), layout.DESC_FLAG_CSUM_OK | layout.DESC_FLAG_HASH_VALID);
      assert.is(d[2], 0xc0ff_ee00 + i);
      assert.is(layout.descOffset(d[3]!), SLOT_HEADROOM);
      const at = again.pool.slotOffset(d[0]!);
      assert.is(Buffer.from(again.pool.bytes.subarray(at, at + 8)).toString('latin1'), `c-frame${i}`);
    }
    assert.not.ok(ep.rx.pop(d));
    const freed = again.endpointRings(1, 0).freeFromPoller;
    assert.is(freed.popWord(), again.pool.firstSlotOf(1));
    assert.is(freed.popWord(), again.pool.firstSlotOf(1) + 1);
    assert.is(freed.popWord(), -1);
    assert.is(again.endpointRings(1, 1).rx.available(64), 0, 'C released what it consumed');
    assert.is(again.pollerCounters(0).get(PollerCounter.rx_frames), C_FRAMES);
    assert.is(again.pollerCounters(0).get(PollerCounter.rx_bytes), 2 ** 32 + 7);
    assert.is(again.ring(RING_KIND_FREE_TO_ENDPOINT, 0, 1).kind, RING_KIND_FREE_TO_ENDPOINT);
  });
});

test('the build command writes the header, creating its folder, and rewrites it only when it changes', () => {
  withTempDir((dir) => {
    const target = join(dir, 'native', 'include', 'baton_shm.h');
    run(process.execPath, [genScript, target]);
    assert.is(readFileSync(target, 'utf8'), renderCHeader());
    const first = statSync(target).mtimeMs;
    writeFileSync(join(dir, 'marker'), '');
    assert.not.ok(writeCHeader(target), 'unchanged text is not rewritten');
    assert.is(statSync(target).mtimeMs, first);
    writeFileSync(target, '/* stale */\n');
    assert.ok(writeCHeader(target));
    assert.is(readFileSync(target, 'utf8'), renderCHeader());
    const usage = spawnSync(process.execPath, [genScript], { encoding: 'utf8' });
    assert.is(usage.status, 2);
    assert.match(usage.stderr, /usage/);
  });
});

test('the header carries every layout constant as a BATON_ define', () => {
  const text = renderCHeader();
  for (const c of LAYOUT_CONSTANTS) assert.match(text, new RegExp(`#define BATON_${c.name}\\s+(0x[0-9a-f]+|\\d+)u\\n`), c.name);
  assert.match(text, /#ifndef BATON_SHM_H/);
  assert.match(text, /#include <stdint\.h>/);
});

test.run();
