#include "arena.h"

namespace baton {

bool Arena::attach(uint8_t *data, size_t length, std::string *err) {
  if (length < BATON_DIR_FIXED_BYTES || (reinterpret_cast<uintptr_t>(data) & 3) != 0) {
    *err = "arena too small or misaligned";
    return false;
  }
  const uint32_t *w = reinterpret_cast<const uint32_t *>(data);
  if (w[BATON_DIR_MAGIC] != BATON_ARENA_MAGIC) {
    *err = "not a Baton arena (bad magic)";
    return false;
  }
  if (w[BATON_DIR_VERSION] != BATON_ARENA_VERSION || w[BATON_DIR_FINGERPRINT] != BATON_LAYOUT_FINGERPRINT) {
    *err = "arena layout differs from the one this addon was built with (rebuild: npm run build)";
    return false;
  }
  if (w[BATON_DIR_ARENA_BYTES] > length || w[BATON_DIR_POOL_OFFSET] + static_cast<uint64_t>(w[BATON_DIR_POOL_BYTES]) > length) {
    *err = "arena directory points past the buffer";
    return false;
  }
  base = data;
  dir = w;
  bytes = w[BATON_DIR_ARENA_BYTES];
  return true;
}

RingView Arena::ring(uint32_t poller, uint32_t endpoint, uint32_t kind) const {
  RingView r;
  if (poller >= pollers() || endpoint >= endpoints() || kind >= BATON_RING_KINDS) return r;
  uint32_t id = (poller * endpoints() + endpoint) * BATON_RING_KINDS + kind;
  const uint32_t *entry = reinterpret_cast<const uint32_t *>(base + d(BATON_DIR_RING_TABLE_OFFSET)) + id * d(BATON_DIR_RING_ENTRY_WORDS);
  uint32_t off = entry[BATON_RING_ENTRY_OFFSET];
  r.hdr = reinterpret_cast<uint32_t *>(base + off);
  r.desc = reinterpret_cast<uint32_t *>(base + off + r.hdr[BATON_RING_HDR_DESC_OFFSET]);
  r.capacity = r.hdr[BATON_RING_HDR_CAPACITY];
  r.mask = r.hdr[BATON_RING_HDR_MASK];
  r.shift = r.hdr[BATON_RING_HDR_DESC_SHIFT];
  return r;
}

uint32_t Arena::owner_first_slot(uint32_t owner) const {
  const uint32_t *t = reinterpret_cast<const uint32_t *>(base + d(BATON_DIR_OWNER_TABLE_OFFSET));
  return t[owner * d(BATON_DIR_OWNER_ENTRY_WORDS) + BATON_OWNER_ENTRY_FIRST_SLOT];
}

uint32_t Arena::owner_slot_count(uint32_t owner) const {
  const uint32_t *t = reinterpret_cast<const uint32_t *>(base + d(BATON_DIR_OWNER_TABLE_OFFSET));
  return t[owner * d(BATON_DIR_OWNER_ENTRY_WORDS) + BATON_OWNER_ENTRY_SLOT_COUNT];
}

uint32_t Arena::owner_large_first(uint32_t owner) const {
  const uint32_t *t = reinterpret_cast<const uint32_t *>(base + d(BATON_DIR_OWNER_TABLE_OFFSET));
  return t[owner * d(BATON_DIR_OWNER_ENTRY_WORDS) + BATON_OWNER_ENTRY_LARGE_FIRST];
}

uint32_t Arena::owner_large_count(uint32_t owner) const {
  const uint32_t *t = reinterpret_cast<const uint32_t *>(base + d(BATON_DIR_OWNER_TABLE_OFFSET));
  return t[owner * d(BATON_DIR_OWNER_ENTRY_WORDS) + BATON_OWNER_ENTRY_LARGE_COUNT];
}

uint32_t Arena::home_of(uint32_t slot) const {
  uint32_t n = owners();
  for (uint32_t o = 0; o < n; o++) {
    uint32_t first = owner_first_slot(o);
    if (slot >= first && slot - first < owner_slot_count(o)) return o;
    uint32_t lfirst = owner_large_first(o);
    if (slot >= lfirst && slot - lfirst < owner_large_count(o) * BATON_LARGE_RUN_SLOTS) return o;
  }
  return UINT32_MAX;
}

uint64_t *Arena::poller_counters(uint32_t poller) const {
  uint32_t block = endpoints() + poller;
  return reinterpret_cast<uint64_t *>(base + d(BATON_DIR_COUNTERS_OFFSET) + static_cast<size_t>(block) * d(BATON_DIR_COUNTER_BLOCK_BYTES));
}

}  // namespace baton
