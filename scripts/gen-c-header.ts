// Generates native/include/baton_shm.h from the TypeScript layout (shm/layout.ts,
// shm/counters.ts via shm/layout-table.ts). Run by the build:
//   node dist/scripts/gen-c-header.js native/include/baton_shm.h
// The header is never edited by hand; it is rewritten only when its text
// changes, so the addon is not rebuilt for nothing.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LAYOUT_CONSTANTS, LAYOUT_FINGERPRINT, type LayoutConstant } from '../shm/layout-table.js';

interface Section {
  readonly title: string;
  readonly has: (name: string) => boolean;
  /** Word indices and enumerations read best in value order; the rest by name. */
  readonly byValue: boolean;
}

// First match wins; anything unmatched lands in "Other constants".
const SECTIONS: readonly Section[] = [
  { title: 'Arena identity and cache geometry', has: (n) => /^(ARENA_|CACHE_LINE$|FALSE_SHARING)/.test(n), byValue: false },
  { title: 'Limits', has: (n) => n.startsWith('MAX_'), byValue: false },
  { title: 'Directory: u32 word index from the arena base (DIR_FIXED_BYTES reserved)', has: (n) => n.startsWith('DIR_'), byValue: true },
  { title: 'Ring table entry: u32 word index from the entry start', has: (n) => n.startsWith('RING_ENTRY_'), byValue: true },
  { title: 'Ring kinds; ring id = ((poller * ENDPOINTS) + endpoint) * RING_KINDS + kind', has: (n) => n.startsWith('RING_KIND'), byValue: true },
  { title: 'Owner table entry: u32 word index from the entry start', has: (n) => n.startsWith('OWNER_ENTRY_'), byValue: true },
  { title: 'Owner kinds; owner id = endpoint, or ENDPOINTS + poller', has: (n) => n.startsWith('OWNER_KIND_'), byValue: true },
  { title: 'Ring header: u32 word index from the ring start', has: (n) => n.startsWith('RING_HDR_'), byValue: true },
  { title: 'Ring geometry', has: (n) => n.startsWith('RING_'), byValue: false },
  {
    title: 'Descriptors: words per descriptor and word index within a frame descriptor',
    has: (n) => /^(FRAME_DESC_WORDS|FREE_DESC_WORDS|DESC_(SLOT|META|HASH|DATA))$/.test(n),
    byValue: true,
  },
  { title: 'Descriptor bit fields: DESC_META (length, port, flags) and DESC_DATA (offset)', has: (n) => /^DESC_.*_(SHIFT|MASK)$/.test(n), byValue: false },
  { title: 'Descriptor flags (DESC_META flags field)', has: (n) => n.startsWith('DESC_FLAG_'), byValue: true },
  { title: 'Packet pool', has: (n) => /^(SLOT_|POOL_)/.test(n), byValue: false },
  { title: 'Counter blocks', has: (n) => n === 'COUNTER_BYTES', byValue: true },
  { title: 'Endpoint counters (double; written by the endpoint thread)', has: (n) => n.startsWith('ENDPOINT_'), byValue: true },
  { title: 'Poller counters (uint64_t; written by the poller thread)', has: (n) => n.startsWith('POLLER_'), byValue: true },
];

function literal(c: LayoutConstant): string {
  const hex = /^(ARENA_MAGIC|RING_MAGIC|MAX_ARENA_BYTES)$|_MASK$|^DESC_FLAG_/.test(c.name) && !/HDR_|^DIR_/.test(c.name);
  return hex ? `0x${c.value.toString(16)}u` : `${c.value}u`;
}

function defines(): string {
  const groups = new Map<string, LayoutConstant[]>();
  for (const c of LAYOUT_CONSTANTS) {
    const title = SECTIONS.find((s) => s.has(c.name))?.title ?? 'Other constants';
    const list = groups.get(title) ?? [];
    list.push(c);
    groups.set(title, list);
  }
  const width = Math.max(...LAYOUT_CONSTANTS.map((c) => c.name.length)) + 'BATON_'.length + 1;
  const out: string[] = [];
  for (const section of [...SECTIONS, { title: 'Other constants', has: () => true, byValue: false }]) {
    const list = groups.get(section.title);
    if (list === undefined) continue;
    const byName = (a: LayoutConstant, b: LayoutConstant): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    list.sort(section.byValue ? (a, b) => a.value - b.value || byName(a, b) : byName);
    const title = section.title;
    out.push(`/* ${title} */`);
    for (const c of list) out.push(`#define ${`BATON_${c.name}`.padEnd(width)} ${literal(c)}`);
    out.push('');
  }
  return out.join('\n');
}

// Accessors only use the macros above; offsets always come from the directory.
const ACCESSORS = String.raw`
/* ---- directory ---------------------------------------------------------- */

static inline uint32_t baton_dir_word(const void *arena, uint32_t word) {
  return ((const uint32_t *)arena)[word];
}

enum baton_arena_status {
  BATON_ARENA_OK = 0,
  BATON_ARENA_MISALIGNED = 1,      /* base not 8-byte aligned */
  BATON_ARENA_TOO_SMALL = 2,
  BATON_ARENA_BAD_MAGIC = 3,
  BATON_ARENA_BAD_VERSION = 4,
  BATON_ARENA_BAD_FINGERPRINT = 5, /* built from a different shm/layout.ts */
  BATON_ARENA_BAD_SIZE = 6,        /* DIR_ARENA_BYTES != buffer length */
  BATON_ARENA_BAD_GEOMETRY = 7     /* a table, ring or region does not fit */
};

static inline const uint32_t *baton_ring_entry(const void *arena, uint32_t ring_id) {
  return (const uint32_t *)((const unsigned char *)arena + baton_dir_word(arena, BATON_DIR_RING_TABLE_OFFSET)) +
         (size_t)ring_id * BATON_RING_ENTRY_WORDS;
}

static inline const uint32_t *baton_owner_entry(const void *arena, uint32_t owner) {
  return (const uint32_t *)((const unsigned char *)arena + baton_dir_word(arena, BATON_DIR_OWNER_TABLE_OFFSET)) +
         (size_t)owner * BATON_OWNER_ENTRY_WORDS;
}

/* Validates an arena (e.g. from napi_get_typedarray_info) before any other use. */
static inline int baton_arena_check(const void *arena, size_t bytes) {
  const uint32_t *d = (const uint32_t *)arena;
  uint32_t r, o;
  if (((uintptr_t)arena & 7u) != 0) return BATON_ARENA_MISALIGNED;
  if (bytes < BATON_DIR_FIXED_BYTES) return BATON_ARENA_TOO_SMALL;
  if (d[BATON_DIR_MAGIC] != BATON_ARENA_MAGIC) return BATON_ARENA_BAD_MAGIC;
  if (d[BATON_DIR_VERSION] != BATON_ARENA_VERSION) return BATON_ARENA_BAD_VERSION;
  if (d[BATON_DIR_FINGERPRINT] != BATON_LAYOUT_FINGERPRINT) return BATON_ARENA_BAD_FINGERPRINT;
  if ((uint64_t)d[BATON_DIR_ARENA_BYTES] != (uint64_t)bytes) return BATON_ARENA_BAD_SIZE;
  if (d[BATON_DIR_CACHE_LINE] != BATON_CACHE_LINE || d[BATON_DIR_RING_KINDS] != BATON_RING_KINDS ||
      d[BATON_DIR_RING_ENTRY_WORDS] != BATON_RING_ENTRY_WORDS || d[BATON_DIR_RING_HEADER_BYTES] != BATON_RING_HEADER_BYTES ||
      d[BATON_DIR_FRAME_DESC_WORDS] != BATON_FRAME_DESC_WORDS || d[BATON_DIR_FREE_DESC_WORDS] != BATON_FREE_DESC_WORDS ||
      d[BATON_DIR_SLOT_SIZE] != BATON_SLOT_SIZE || d[BATON_DIR_SLOT_HEADROOM] != BATON_SLOT_HEADROOM ||
      d[BATON_DIR_OWNER_ENTRY_WORDS] != BATON_OWNER_ENTRY_WORDS ||
      d[BATON_DIR_ENDPOINT_COUNTERS] != BATON_ENDPOINT_COUNTERS || d[BATON_DIR_POLLER_COUNTERS] != BATON_POLLER_COUNTERS ||
      d[BATON_DIR_ENDPOINTS] != d[BATON_DIR_WORKERS] + 1u || d[BATON_DIR_CONTROL_ENDPOINT] != d[BATON_DIR_WORKERS] ||
      d[BATON_DIR_OWNERS] != d[BATON_DIR_ENDPOINTS] + d[BATON_DIR_POLLERS] ||
      d[BATON_DIR_RING_COUNT] != d[BATON_DIR_POLLERS] * d[BATON_DIR_ENDPOINTS] * BATON_RING_KINDS)
    return BATON_ARENA_BAD_GEOMETRY;
  if ((uint64_t)d[BATON_DIR_DIRECTORY_BYTES] > bytes ||
      (uint64_t)d[BATON_DIR_RING_TABLE_OFFSET] + (uint64_t)d[BATON_DIR_RING_COUNT] * BATON_RING_ENTRY_WORDS * 4u > d[BATON_DIR_DIRECTORY_BYTES] ||
      (uint64_t)d[BATON_DIR_OWNER_TABLE_OFFSET] + (uint64_t)d[BATON_DIR_OWNERS] * BATON_OWNER_ENTRY_WORDS * 4u > d[BATON_DIR_DIRECTORY_BYTES] ||
      (uint64_t)d[BATON_DIR_POOL_SLOTS] * BATON_SLOT_SIZE != d[BATON_DIR_POOL_BYTES] ||
      (uint64_t)d[BATON_DIR_POOL_OFFSET] + d[BATON_DIR_POOL_BYTES] > bytes ||
      (uint64_t)d[BATON_DIR_COUNTERS_OFFSET] + (uint64_t)d[BATON_DIR_COUNTER_BLOCKS] * d[BATON_DIR_COUNTER_BLOCK_BYTES] > bytes ||
      d[BATON_DIR_COUNTER_BLOCKS] != d[BATON_DIR_OWNERS] || (d[BATON_DIR_COUNTERS_OFFSET] & 7u) != 0)
    return BATON_ARENA_BAD_GEOMETRY;
  for (r = 0; r < d[BATON_DIR_RING_COUNT]; r++) {
    const uint32_t *e = baton_ring_entry(arena, r);
    const uint32_t *h = (const uint32_t *)((const unsigned char *)arena + e[BATON_RING_ENTRY_OFFSET]);
    if ((e[BATON_RING_ENTRY_OFFSET] & (BATON_RING_ALIGN - 1u)) != 0 ||
        (uint64_t)e[BATON_RING_ENTRY_OFFSET] + BATON_RING_HEADER_BYTES +
                (uint64_t)e[BATON_RING_ENTRY_CAPACITY] * e[BATON_RING_ENTRY_DESC_WORDS] * 4u > bytes)
      return BATON_ARENA_BAD_GEOMETRY;
    if (h[BATON_RING_HDR_MAGIC] != BATON_RING_MAGIC || h[BATON_RING_HDR_CAPACITY] != e[BATON_RING_ENTRY_CAPACITY] ||
        h[BATON_RING_HDR_MASK] != e[BATON_RING_ENTRY_CAPACITY] - 1u || (h[BATON_RING_HDR_CAPACITY] & h[BATON_RING_HDR_MASK]) != 0 ||
        h[BATON_RING_HDR_DESC_WORDS] != e[BATON_RING_ENTRY_DESC_WORDS] || h[BATON_RING_HDR_DESC_SHIFT] > 4u ||
        (1u << h[BATON_RING_HDR_DESC_SHIFT]) != h[BATON_RING_HDR_DESC_WORDS] ||
        h[BATON_RING_HDR_ID] != r || h[BATON_RING_HDR_DESC_OFFSET] != BATON_RING_HEADER_BYTES)
      return BATON_ARENA_BAD_GEOMETRY;
  }
  for (o = 0; o < d[BATON_DIR_OWNERS]; o++) {
    const uint32_t *e = baton_owner_entry(arena, o);
    if ((uint64_t)e[BATON_OWNER_ENTRY_FIRST_SLOT] + e[BATON_OWNER_ENTRY_SLOT_COUNT] > d[BATON_DIR_POOL_SLOTS])
      return BATON_ARENA_BAD_GEOMETRY;
  }
  return BATON_ARENA_OK;
}

/* ---- rings ---------------------------------------------------------------- */
/* Memory ordering (see shm/ring.ts): HEAD/TAIL are the only atomics; stores
 * are release, loads of the other side's index are acquire; descriptors and
 * slot bytes are plain memory ordered by them. */

static inline uint32_t baton_ring_id(const void *arena, uint32_t kind, uint32_t poller, uint32_t endpoint) {
  return (poller * baton_dir_word(arena, BATON_DIR_ENDPOINTS) + endpoint) * BATON_RING_KINDS + kind;
}

static inline uint32_t *baton_ring_header(void *arena, uint32_t ring_id) {
  return (uint32_t *)((unsigned char *)arena + baton_ring_entry(arena, ring_id)[BATON_RING_ENTRY_OFFSET]);
}

static inline uint32_t *baton_ring_descs(uint32_t *hdr) {
  return (uint32_t *)((unsigned char *)hdr + hdr[BATON_RING_HDR_DESC_OFFSET]);
}

static inline uint32_t baton_ring_load_head(const uint32_t *hdr) {
  return __atomic_load_n(&hdr[BATON_RING_HDR_HEAD], __ATOMIC_ACQUIRE);
}

static inline uint32_t baton_ring_load_tail(const uint32_t *hdr) {
  return __atomic_load_n(&hdr[BATON_RING_HDR_TAIL], __ATOMIC_ACQUIRE);
}

static inline void baton_ring_store_head(uint32_t *hdr, uint32_t head) {
  __atomic_store_n(&hdr[BATON_RING_HDR_HEAD], head, __ATOMIC_RELEASE);
}

static inline void baton_ring_store_tail(uint32_t *hdr, uint32_t tail) {
  __atomic_store_n(&hdr[BATON_RING_HDR_TAIL], tail, __ATOMIC_RELEASE);
}

/* The single producer's private state: own head, cached copy of the consumer's tail. */
typedef struct baton_ring_producer {
  uint32_t *hdr;
  uint32_t *desc;
  uint32_t capacity, mask, shift;
  uint32_t head, tail_cache;
} baton_ring_producer;

/* The single consumer's private state: own tail, cached copy of the producer's head. */
typedef struct baton_ring_consumer {
  uint32_t *hdr;
  uint32_t *desc;
  uint32_t capacity, mask, shift;
  uint32_t tail, head_cache;
} baton_ring_consumer;

static inline void baton_ring_producer_init(baton_ring_producer *p, uint32_t *hdr) {
  p->hdr = hdr;
  p->desc = baton_ring_descs(hdr);
  p->capacity = hdr[BATON_RING_HDR_CAPACITY];
  p->mask = hdr[BATON_RING_HDR_MASK];
  p->shift = hdr[BATON_RING_HDR_DESC_SHIFT];
  p->head = __atomic_load_n(&hdr[BATON_RING_HDR_HEAD], __ATOMIC_RELAXED);
  p->tail_cache = baton_ring_load_tail(hdr);
}

/* How many of the next n descriptors may be written now (0..n). */
static inline uint32_t baton_ring_reserve(baton_ring_producer *p, uint32_t n) {
  uint32_t room = p->capacity - (p->head - p->tail_cache);
  if (room < n) {
    p->tail_cache = baton_ring_load_tail(p->hdr);
    room = p->capacity - (p->head - p->tail_cache);
  }
  return room < n ? room : n;
}

/* First word of reserved descriptor i. */
static inline uint32_t *baton_ring_producer_desc(const baton_ring_producer *p, uint32_t i) {
  return p->desc + ((size_t)((p->head + i) & p->mask) << p->shift);
}

static inline void baton_ring_commit(baton_ring_producer *p, uint32_t n) {
  p->head += n;
  baton_ring_store_head(p->hdr, p->head);
}

static inline void baton_ring_consumer_init(baton_ring_consumer *c, uint32_t *hdr) {
  c->hdr = hdr;
  c->desc = baton_ring_descs(hdr);
  c->capacity = hdr[BATON_RING_HDR_CAPACITY];
  c->mask = hdr[BATON_RING_HDR_MASK];
  c->shift = hdr[BATON_RING_HDR_DESC_SHIFT];
  c->tail = __atomic_load_n(&hdr[BATON_RING_HDR_TAIL], __ATOMIC_RELAXED);
  c->head_cache = baton_ring_load_head(hdr);
}

/* How many published descriptors may be read now (0..max). */
static inline uint32_t baton_ring_available(baton_ring_consumer *c, uint32_t max) {
  uint32_t n = c->head_cache - c->tail;
  if (n < max) {
    c->head_cache = baton_ring_load_head(c->hdr);
    n = c->head_cache - c->tail;
  }
  return n < max ? n : max;
}

/* First word of available descriptor i. */
static inline const uint32_t *baton_ring_consumer_desc(const baton_ring_consumer *c, uint32_t i) {
  return c->desc + ((size_t)((c->tail + i) & c->mask) << c->shift);
}

static inline void baton_ring_release(baton_ring_consumer *c, uint32_t n) {
  c->tail += n;
  baton_ring_store_tail(c->hdr, c->tail);
}

/* ---- descriptors ---------------------------------------------------------- */

static inline uint32_t baton_desc_meta(uint32_t length, uint32_t port, uint32_t flags) {
  return ((length & BATON_DESC_LEN_MASK) << BATON_DESC_LEN_SHIFT) | ((port & BATON_DESC_PORT_MASK) << BATON_DESC_PORT_SHIFT) |
         ((flags & BATON_DESC_FLAGS_MASK) << BATON_DESC_FLAGS_SHIFT);
}
static inline uint32_t baton_desc_length(uint32_t meta) { return (meta >> BATON_DESC_LEN_SHIFT) & BATON_DESC_LEN_MASK; }
static inline uint32_t baton_desc_port(uint32_t meta) { return (meta >> BATON_DESC_PORT_SHIFT) & BATON_DESC_PORT_MASK; }
static inline uint32_t baton_desc_flags(uint32_t meta) { return (meta >> BATON_DESC_FLAGS_SHIFT) & BATON_DESC_FLAGS_MASK; }
static inline uint32_t baton_desc_data(uint32_t offset) { return (offset & BATON_DESC_OFFSET_MASK) << BATON_DESC_OFFSET_SHIFT; }
static inline uint32_t baton_desc_offset(uint32_t data) { return (data >> BATON_DESC_OFFSET_SHIFT) & BATON_DESC_OFFSET_MASK; }

/* ---- packet pool ------------------------------------------------------------ */

/* First byte (start of headroom) of a slot. */
static inline unsigned char *baton_slot(void *arena, uint32_t slot) {
  return (unsigned char *)arena + baton_dir_word(arena, BATON_DIR_POOL_OFFSET) + (size_t)slot * BATON_SLOT_SIZE;
}

/* Owner id whose home the slot is (endpoints first, then pollers), or UINT32_MAX. */
static inline uint32_t baton_slot_home(const void *arena, uint32_t slot) {
  uint32_t o, owners = baton_dir_word(arena, BATON_DIR_OWNERS);
  for (o = 0; o < owners; o++) {
    const uint32_t *e = baton_owner_entry(arena, o);
    if (slot - e[BATON_OWNER_ENTRY_FIRST_SLOT] < e[BATON_OWNER_ENTRY_SLOT_COUNT]) return o;
  }
  return UINT32_MAX;
}

static inline uint32_t baton_poller_owner(const void *arena, uint32_t poller) {
  return baton_dir_word(arena, BATON_DIR_ENDPOINTS) + poller;
}

/* ---- counters --------------------------------------------------------------- */

static inline unsigned char *baton_counter_block(void *arena, uint32_t owner) {
  return (unsigned char *)arena + baton_dir_word(arena, BATON_DIR_COUNTERS_OFFSET) +
         (size_t)owner * baton_dir_word(arena, BATON_DIR_COUNTER_BLOCK_BYTES);
}

/* A poller's uint64_t counters; index with BATON_POLLER_CTR_*. */
static inline uint64_t *baton_poller_counters(void *arena, uint32_t poller) {
  return (uint64_t *)baton_counter_block(arena, baton_poller_owner(arena, poller));
}

/* Single writer: a relaxed 8-byte store, so readers never see a torn value. */
static inline void baton_counter_add(uint64_t *block, uint32_t index, uint64_t n) {
  __atomic_store_n(&block[index], __atomic_load_n(&block[index], __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline uint64_t baton_counter_read(const uint64_t *block, uint32_t index) {
  return __atomic_load_n(&block[index], __ATOMIC_RELAXED);
}

/* An endpoint's counters are doubles written by JS; index with BATON_ENDPOINT_CTR_*. */
static inline double baton_endpoint_counter(void *arena, uint32_t endpoint, uint32_t index) {
  union { uint64_t bits; double value; } u;
  u.bits = __atomic_load_n((const uint64_t *)baton_counter_block(arena, endpoint) + index, __ATOMIC_RELAXED);
  return u.value;
}
`;

/** The whole header text. */
export function renderCHeader(): string {
  return [
    '/* baton_shm.h: the Baton shared-memory arena layout.',
    ' * GENERATED by scripts/gen-c-header.ts from shm/layout.ts and shm/counters.ts.',
    ' * Do not edit: change the TypeScript and rebuild. Diagrams and the meaning of',
    ' * every field are in shm/layout.ts; the ring protocol is in shm/ring.ts; the',
    ' * slot ownership protocol is in shm/pool.ts. */',
    '#ifndef BATON_SHM_H',
    '#define BATON_SHM_H',
    '',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '',
    '#ifdef __cplusplus',
    'extern "C" {',
    '#endif',
    '',
    '/* Hash of every constant below; an arena made by a different layout is refused. */',
    `#define BATON_LAYOUT_FINGERPRINT 0x${LAYOUT_FINGERPRINT.toString(16).padStart(8, '0')}u`,
    '',
    defines(),
    ACCESSORS.trim(),
    '',
    '#ifdef __cplusplus',
    '} /* extern "C" */',
    '#endif',
    '',
    '#endif /* BATON_SHM_H */',
    '',
  ].join('\n');
}

/** Writes the header to `path` (creating its folder) unless it already has this text. Returns true when written. */
export function writeCHeader(path: string): boolean {
  const text = renderCHeader();
  let old: string | undefined;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) return false;
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, text);
  return true;
}

function main(argv: readonly string[]): void {
  const out = argv[2];
  if (out === undefined || argv.length > 3) {
    process.stderr.write('usage: node dist/scripts/gen-c-header.js <output .h path>\n');
    process.exitCode = 2;
    return;
  }
  writeCHeader(out);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv);
}
