// The shared-memory layout of one Baton arena, defined once.
//
// Every exported UPPER_SNAKE number in this file (and the counter indices in
// counters.ts) becomes `#define BATON_<NAME>` in native/include/baton_shm.h
// (scripts/gen-c-header.ts), and all of them feed the layout fingerprint that
// the arena directory carries, so a C build and a JS build that disagree on
// any constant refuse to attach to each other. The C side never recomputes
// offsets: it reads them from the directory at run time. Plans, creation and
// validation of an arena are in arena.ts; the ring protocol in ring.ts; slot
// ownership in pool.ts; counter names in counters.ts.
//
// One arena is one SharedArrayBuffer, created by the control thread before it
// is shared and never resized:
//
//   offset 0                                                           end
//   +-----------+----------+----------+-----------+------------------------+
//   | directory | ring tbl | owner tbl | counters | rings ... | packet pool |
//   +-----------+----------+----------+-----------+------------------------+
//   '-- written once by createArena, read-only after --'
//
// Directory (u32 words at offset 0; DIR_* are word indices):
//
//   word  field                 meaning
//   0     MAGIC                 ARENA_MAGIC ('BTSH')
//   1     VERSION               ARENA_VERSION
//   2     FINGERPRINT           hash of every layout constant (layout-table.ts)
//   3     ARENA_BYTES           total bytes of the arena (< 4 GiB)
//   4     DIRECTORY_BYTES       directory + both tables, cache-line rounded
//   5     CACHE_LINE            64
//   6     WORKERS               W; worker endpoints are 0..W-1
//   7     ENDPOINTS             W + 1
//   8     CONTROL_ENDPOINT      W: the control thread is the last endpoint
//   9     POLLERS               P native poller threads
//   10    OWNERS                E + P slot owners: endpoint e is owner e,
//                               poller p is owner E + p
//   11    RING_KINDS            4 (RING_KIND_*)
//   12    RING_COUNT            P * E * RING_KINDS
//   13    RING_TABLE_OFFSET     byte offset of the ring table
//   14    RING_ENTRY_WORDS      u32 words per ring table entry (RING_ENTRY_*)
//   15    RING_HEADER_BYTES     bytes before a ring's descriptors
//   16    FRAME_DESC_WORDS      4: words per frame descriptor (rx/tx rings)
//   17    FREE_DESC_WORDS       1: words per free-ring entry (a slot index)
//   18    RX_RING_CAPACITY      descriptors per worker rx ring
//   19    TX_RING_CAPACITY      descriptors per worker tx ring
//   20    CONTROL_RING_CAPACITY descriptors per control rx / tx ring
//   21    RINGS_OFFSET          byte offset of the first ring
//   22    RINGS_BYTES           bytes of all rings
//   23    POOL_OFFSET           byte offset of slot 0 (POOL_ALIGN aligned)
//   24    POOL_BYTES            POOL_SLOTS * SLOT_SIZE
//   25    POOL_SLOTS            number of packet slots
//   26    SLOT_SIZE             2048
//   27    SLOT_HEADROOM         128
//   28    CONTROL_SLOTS         slots homed at the control endpoint
//   29    POLLER_SLOTS          slots homed at each poller
//   30    OWNER_TABLE_OFFSET    byte offset of the owner table
//   31    OWNER_ENTRY_WORDS     u32 words per owner entry (OWNER_ENTRY_*)
//   32    COUNTERS_OFFSET       byte offset of counter block 0
//   33    COUNTER_BLOCK_BYTES   stride between counter blocks
//   34    COUNTER_BLOCKS        one block per owner, in owner order
//   35    ENDPOINT_COUNTERS     counters in an endpoint block (float64 each)
//   36    POLLER_COUNTERS       counters in a poller block (uint64 each)
//   37    LARGE_RUN_SLOTS       LARGE_RUN_SLOTS: slots per large buffer
//   38    WORKER_LARGE          large buffers homed at each worker (0: none)
//   39    POLLER_LARGE          large buffers homed at each poller (0: none)
//   40    SMALL_SLOTS           ordinary slots (POOL_SLOTS less the large areas)
//
// Ring table entry r (RING_ENTRY_WORDS words at RING_TABLE_OFFSET + r * 32):
//   OFFSET, CAPACITY, DESC_WORDS, KIND, POLLER, ENDPOINT, 2 reserved.
//   Ring id r = ((poller * ENDPOINTS) + endpoint) * RING_KINDS + kind.
// Owner table entry o: FIRST_SLOT, SLOT_COUNT, KIND (OWNER_KIND_*), INDEX,
//   LARGE_FIRST, LARGE_COUNT (large buffers: see "Large buffers" below).
//
// Ring header (RING_HEADER_BYTES; RING_HDR_* are u32 word indices):
//
//   line 0  config      MAGIC CAPACITY MASK DESC_WORDS DESC_SHIFT KIND POLLER
//                       ENDPOINT ID DESC_OFFSET         written by createArena
//   line 1  producer    HEAD PRODUCER_PARKED PRODUCER_WAKE   written by producer
//   line 2  (spare)
//   line 3  consumer    TAIL CONSUMER_PARKED CONSUMER_WAKE   written by consumer
//   line 4  (spare)
//   then    descriptors CAPACITY * DESC_WORDS u32 words      written by producer
//
// The spare lines are there because Node allocates a SharedArrayBuffer with
// calloc, so its base is only 16-byte aligned: with a whole unused line
// between every pair of word groups written by different threads, those
// groups never share a physical cache line whatever the base alignment (and
// when the base is aligned, producer and consumer also sit in different
// 128-byte adjacent-line-prefetch pairs). The *_WAKE word on each line is the
// futex word its owner sleeps on; only the other side bumps it, and only
// while the owner is parked, so it does not bounce in steady state.
//
// Frame descriptor (rx, tx rings; FRAME_DESC_WORDS = 4 u32 words, 16 bytes):
//
//   word 0  DESC_SLOT  pool slot index
//   word 1  DESC_META  bits 0-15 length | bits 16-23 port | bits 24-31 flags
//   word 2  DESC_HASH  symmetric flow hash (valid when DESC_FLAG_HASH_VALID);
//                      on the control endpoint's rx rings: the frame's arrival
//                      time, CLOCK_MONOTONIC ms mod 2^32 (cluster heartbeats
//                      are read late, at the control thread's timer tick)
//   word 3  DESC_DATA  bits 0-15 offset of the frame from the slot start,
//                      bits 16-31 reserved (zero)
//
// Why four words and not two: the poller already computes the symmetric flow
// hash to steer the frame, and handing it over saves every worker a 4-tuple
// parse and hash before its flow-table lookup. The data offset lets a stack
// strip or prepend headers in place (the headroom exists for that) and tell
// the poller where the frame now starts, as DPDK's mbuf data_off does. Four
// words is also a power of two: a descriptor is 16-byte aligned, never
// straddles a cache line, and is indexed with a shift.
//
// Free-ring entry (FREE_DESC_WORDS = 1): the slot index being returned home.
//
// Large buffers (TAP segmentation offload, off unless a plan asks for them):
// a large buffer is a run of LARGE_RUN_SLOTS consecutive slots, named by the
// index of its first slot, so descriptors, free rings and slot addressing
// are unchanged: a descriptor whose slot is a run's first slot may carry a
// frame of up to LARGE_MAX_FRAME bytes (still < 2^16: the length field is
// unchanged) from that slot's headroom on. The large areas follow every
// ordinary slot: owner o's runs start at its LARGE_FIRST and it has
// LARGE_COUNT of them; only run starts ever circulate (the other slots of a
// run are never named). Workers build large TCP segments in theirs; pollers
// receive the device's large frames into theirs. A large buffer goes home
// exactly as a slot does (same rings, same rules).

export const CACHE_LINE = 64;
/** Adjacent-line prefetch span; hot lines of different writers are this far apart when the base is aligned. */
export const FALSE_SHARING_SPAN = 128;

export const ARENA_MAGIC = 0x4853_5442; // 'BTSH' in memory on little-endian
export const ARENA_VERSION = 1;

// --- directory words ---------------------------------------------------------
export const DIR_MAGIC = 0;
export const DIR_VERSION = 1;
export const DIR_FINGERPRINT = 2;
export const DIR_ARENA_BYTES = 3;
export const DIR_DIRECTORY_BYTES = 4;
export const DIR_CACHE_LINE = 5;
export const DIR_WORKERS = 6;
export const DIR_ENDPOINTS = 7;
export const DIR_CONTROL_ENDPOINT = 8;
export const DIR_POLLERS = 9;
export const DIR_OWNERS = 10;
export const DIR_RING_KINDS = 11;
export const DIR_RING_COUNT = 12;
export const DIR_RING_TABLE_OFFSET = 13;
export const DIR_RING_ENTRY_WORDS = 14;
export const DIR_RING_HEADER_BYTES = 15;
export const DIR_FRAME_DESC_WORDS = 16;
export const DIR_FREE_DESC_WORDS = 17;
export const DIR_RX_RING_CAPACITY = 18;
export const DIR_TX_RING_CAPACITY = 19;
export const DIR_CONTROL_RING_CAPACITY = 20;
export const DIR_RINGS_OFFSET = 21;
export const DIR_RINGS_BYTES = 22;
export const DIR_POOL_OFFSET = 23;
export const DIR_POOL_BYTES = 24;
export const DIR_POOL_SLOTS = 25;
export const DIR_SLOT_SIZE = 26;
export const DIR_SLOT_HEADROOM = 27;
export const DIR_CONTROL_SLOTS = 28;
export const DIR_POLLER_SLOTS = 29;
export const DIR_OWNER_TABLE_OFFSET = 30;
export const DIR_OWNER_ENTRY_WORDS = 31;
export const DIR_COUNTERS_OFFSET = 32;
export const DIR_COUNTER_BLOCK_BYTES = 33;
export const DIR_COUNTER_BLOCKS = 34;
export const DIR_ENDPOINT_COUNTERS = 35;
export const DIR_POLLER_COUNTERS = 36;
export const DIR_LARGE_RUN_SLOTS = 37;
export const DIR_WORKER_LARGE = 38;
export const DIR_POLLER_LARGE = 39;
export const DIR_SMALL_SLOTS = 40;
/** Number of directory words in use; the rest of DIR_FIXED_BYTES is zero. */
export const DIR_WORDS = 41;
/** Bytes reserved for the fixed directory words; the ring table follows. */
export const DIR_FIXED_BYTES = 256;

// --- ring table --------------------------------------------------------------
export const RING_ENTRY_OFFSET = 0;
export const RING_ENTRY_CAPACITY = 1;
export const RING_ENTRY_DESC_WORDS = 2;
export const RING_ENTRY_KIND = 3;
export const RING_ENTRY_POLLER = 4;
export const RING_ENTRY_ENDPOINT = 5;
export const RING_ENTRY_WORDS = 8;

/** Poller → endpoint: received frames (frame descriptors). */
export const RING_KIND_RX = 0;
/** Endpoint → poller: frames to transmit (frame descriptors). */
export const RING_KIND_TX = 1;
/** Endpoint → poller: free slots whose home is the poller (slot indices). */
export const RING_KIND_FREE_TO_POLLER = 2;
/** Poller → endpoint: free slots whose home is the endpoint (slot indices). */
export const RING_KIND_FREE_TO_ENDPOINT = 3;
export const RING_KINDS = 4;

// --- owner table -------------------------------------------------------------
export const OWNER_ENTRY_FIRST_SLOT = 0;
export const OWNER_ENTRY_SLOT_COUNT = 1;
export const OWNER_ENTRY_KIND = 2;
export const OWNER_ENTRY_INDEX = 3;
/** First slot of the owner's large area (runs of LARGE_RUN_SLOTS); meaningless when LARGE_COUNT is 0. */
export const OWNER_ENTRY_LARGE_FIRST = 4;
/** Large buffers homed at the owner. */
export const OWNER_ENTRY_LARGE_COUNT = 5;
export const OWNER_ENTRY_WORDS = 6;
export const OWNER_KIND_ENDPOINT = 0;
export const OWNER_KIND_POLLER = 1;

// --- ring header -------------------------------------------------------------
export const RING_MAGIC = 0x474e_4952; // 'RING' in memory on little-endian
export const RING_HDR_MAGIC = 0;
export const RING_HDR_CAPACITY = 1;
export const RING_HDR_MASK = 2;
export const RING_HDR_DESC_WORDS = 3;
export const RING_HDR_DESC_SHIFT = 4;
export const RING_HDR_KIND = 5;
export const RING_HDR_POLLER = 6;
export const RING_HDR_ENDPOINT = 7;
export const RING_HDR_ID = 8;
export const RING_HDR_DESC_OFFSET = 9;
/** Producer line (line 1): free-running u32 count of descriptors published. */
export const RING_HDR_HEAD = 16;
/** Non-zero while the producer sleeps on a full ring; written by the producer. */
export const RING_HDR_PRODUCER_PARKED = 17;
/** Futex word the parked producer sleeps on; bumped by the consumer. */
export const RING_HDR_PRODUCER_WAKE = 18;
/** Consumer line (line 3): free-running u32 count of descriptors released. */
export const RING_HDR_TAIL = 48;
/** Non-zero while the consumer sleeps on an empty ring; written by the consumer. */
export const RING_HDR_CONSUMER_PARKED = 49;
/** Futex word the parked consumer sleeps on; bumped by the producer. */
export const RING_HDR_CONSUMER_WAKE = 50;
export const RING_HEADER_BYTES = 320;
/** Rings start on an adjacent-line-prefetch pair boundary (relative to the arena base). */
export const RING_ALIGN = 128;
export const RING_MIN_CAPACITY = 2;
/** Keeps (head - tail) far inside 2^31, so int32 arithmetic on the indices is exact. */
export const RING_MAX_CAPACITY = 1 << 24;

// --- descriptors -------------------------------------------------------------
export const FRAME_DESC_WORDS = 4;
export const FREE_DESC_WORDS = 1;
export const DESC_SLOT = 0;
export const DESC_META = 1;
export const DESC_HASH = 2;
export const DESC_DATA = 3;
export const DESC_LEN_SHIFT = 0;
export const DESC_LEN_MASK = 0xffff;
export const DESC_PORT_SHIFT = 16;
export const DESC_PORT_MASK = 0xff;
export const DESC_FLAGS_SHIFT = 24;
export const DESC_FLAGS_MASK = 0xff;
export const DESC_OFFSET_SHIFT = 0;
export const DESC_OFFSET_MASK = 0xffff;
/** rx: the driver verified the IPv4 and L4 checksums. */
export const DESC_FLAG_CSUM_OK = 1 << 0;
/** tx: the L4 checksum is left for the driver to finish (vnet NEEDS_CSUM, DPDK offload). */
export const DESC_FLAG_CSUM_PARTIAL = 1 << 1;
/** rx: a copy of a frame not addressed to this node (promiscuous snoop or mirror). */
export const DESC_FLAG_SNOOP = 1 << 2;
/** DESC_HASH holds the poller's symmetric flow hash. */
export const DESC_FLAG_HASH_VALID = 1 << 3;
/**
 * tx: an IPv4 TCP segment longer than the MSS, in a large buffer, for a device
 * that segments (TAP offload, virtio_net_hdr GSO_TCPV4); DESC_HASH holds the
 * segment size (the MSS, payload bytes per wire segment). The TCP checksum
 * field holds the pseudo-header sum, as with DESC_FLAG_CSUM_PARTIAL, which
 * a GSO frame always carries too.
 * rx: the device delivered the frame as one large segment (the sender's
 * segments not yet cut); DESC_HASH is still the flow hash.
 */
export const DESC_FLAG_GSO = 1 << 4;
// Bits 5-7 are reserved and zero.
// On rx, DESC_FLAG_CSUM_PARTIAL means the L4 checksum field holds only the
// pseudo-header sum (virtio NEEDS_CSUM): the frame was built by the local
// kernel and never crossed a wire, so it is trusted as DESC_FLAG_CSUM_OK is.

// --- packet pool -------------------------------------------------------------
export const SLOT_SIZE = 2048;
/** Bytes before the frame on receive, so headers can be prepended in place (eth+vlan+ip6+tcp ≤ 118). */
export const SLOT_HEADROOM = 128;
export const SLOT_MAX_FRAME = SLOT_SIZE - SLOT_HEADROOM;
/** Slots per large buffer: 33 × 2048 − 128 ≥ 65,535, the largest frame a descriptor can carry. */
export const LARGE_RUN_SLOTS = 33;
/** Largest frame in a large buffer: the descriptor's 16-bit length. */
export const LARGE_MAX_FRAME = 0xffff;
export const POOL_ALIGN = 4096;

// --- steering of connection-transfer frames (dataplane/handoff/wire.ts) -------
/** Ethertype of a connection transfer between two nodes' workers (IEEE 802 local experimental 2). */
export const ETHERTYPE_HANDOFF = 0x88b6;
/** Offset, after the Ethernet header, of the transferred connection's 4-tuple (steer.h hashes it). */
export const HANDOFF_TUPLE_OFFSET = 4;

// --- limits ------------------------------------------------------------------
export const MAX_WORKERS = 1024;
export const MAX_POLLERS = 64;
/** Arena byte offsets are u32. */
export const MAX_ARENA_BYTES = 0xffff_f000;

// --- descriptor packing (hot path: small, monomorphic, int32 in/out) ---------

/** DESC_META word from a frame length, port index and DESC_FLAG_* bits. */
export function descMeta(length: number, port: number, flags: number): number {
  return ((length & DESC_LEN_MASK) | ((port & DESC_PORT_MASK) << DESC_PORT_SHIFT) | ((flags & DESC_FLAGS_MASK) << DESC_FLAGS_SHIFT)) >>> 0;
}

export function descLength(meta: number): number {
  return meta & DESC_LEN_MASK;
}

export function descPort(meta: number): number {
  return (meta >>> DESC_PORT_SHIFT) & DESC_PORT_MASK;
}

export function descFlags(meta: number): number {
  return (meta >>> DESC_FLAGS_SHIFT) & DESC_FLAGS_MASK;
}

/** DESC_DATA word: frame offset from the slot start (SLOT_HEADROOM on receive). */
export function descData(offset: number): number {
  return offset & DESC_OFFSET_MASK;
}

export function descOffset(data: number): number {
  return data & DESC_OFFSET_MASK;
}
