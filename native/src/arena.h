// C++ view of the shared arena laid out by shm/layout.ts. Offsets are read
// from the arena's directory at attach time, never recomputed here; the
// constants come from the generated include/baton_shm.h.
#pragma once
#include <cstdint>
#include <string>

#include "baton_shm.h"

namespace baton {

// One SPSC ring as seen from native code. Index words are accessed with
// acquire/release atomics, pairing with JS Atomics.load/store (which are
// sequentially consistent, so stronger).
struct RingView {
  uint32_t *hdr = nullptr;
  uint32_t *desc = nullptr;
  uint32_t mask = 0;
  uint32_t shift = 0;
  uint32_t capacity = 0;
  // Producer-side or consumer-side private copies (each RingView is used by one side).
  uint32_t local = 0;   // our index: head (producer) or tail (consumer)
  uint32_t cached = 0;  // last seen other-side index
  uint32_t pending = 0; // producer: reserved-and-written but not yet committed

  bool valid() const { return hdr != nullptr; }

  void init_producer() {
    local = __atomic_load_n(&hdr[BATON_RING_HDR_HEAD], __ATOMIC_ACQUIRE);
    cached = __atomic_load_n(&hdr[BATON_RING_HDR_TAIL], __ATOMIC_ACQUIRE);
    pending = 0;
  }
  void init_consumer() {
    local = __atomic_load_n(&hdr[BATON_RING_HDR_TAIL], __ATOMIC_ACQUIRE);
    cached = __atomic_load_n(&hdr[BATON_RING_HDR_HEAD], __ATOMIC_ACQUIRE);
  }

  // --- producer
  uint32_t free_slots() {
    uint32_t used = local + pending - cached;
    if (used >= capacity) {
      cached = __atomic_load_n(&hdr[BATON_RING_HDR_TAIL], __ATOMIC_ACQUIRE);
      used = local + pending - cached;
    }
    return capacity - used;
  }
  // Pointer to the next descriptor to write (caller checked free_slots() > 0).
  uint32_t *next_desc() { return desc + (((local + pending) & mask) << shift); }
  void stage() { pending++; }
  // Publishes everything staged. Returns how many were published.
  uint32_t commit() {
    uint32_t n = pending;
    if (n == 0) return 0;
    local += n;
    pending = 0;
    __atomic_store_n(&hdr[BATON_RING_HDR_HEAD], local, __ATOMIC_RELEASE);
    return n;
  }

  // --- consumer
  uint32_t available() {
    uint32_t n = cached - local;
    if (n == 0) {
      cached = __atomic_load_n(&hdr[BATON_RING_HDR_HEAD], __ATOMIC_ACQUIRE);
      n = cached - local;
    }
    return n;
  }
  const uint32_t *desc_at(uint32_t i) const { return desc + (((local + i) & mask) << shift); }
  void release(uint32_t n) {
    local += n;
    __atomic_store_n(&hdr[BATON_RING_HDR_TAIL], local, __ATOMIC_RELEASE);
  }

  // --- parking words (consumer side of this ring)
  uint32_t *consumer_parked() { return &hdr[BATON_RING_HDR_CONSUMER_PARKED]; }
  uint32_t *consumer_wake() { return &hdr[BATON_RING_HDR_CONSUMER_WAKE]; }
};

struct Arena {
  uint8_t *base = nullptr;
  const uint32_t *dir = nullptr;
  uint32_t bytes = 0;

  uint32_t d(int word) const { return dir[word]; }
  uint32_t workers() const { return d(BATON_DIR_WORKERS); }
  uint32_t endpoints() const { return d(BATON_DIR_ENDPOINTS); }
  uint32_t control_endpoint() const { return d(BATON_DIR_CONTROL_ENDPOINT); }
  uint32_t pollers() const { return d(BATON_DIR_POLLERS); }
  uint32_t owners() const { return d(BATON_DIR_OWNERS); }

  // Validates magic, version, fingerprint and that every table lies inside.
  bool attach(uint8_t *data, size_t length, std::string *err);

  RingView ring(uint32_t poller, uint32_t endpoint, uint32_t kind) const;
  uint8_t *slot(uint32_t index) const { return base + d(BATON_DIR_POOL_OFFSET) + static_cast<size_t>(index) * BATON_SLOT_SIZE; }
  uint32_t owner_first_slot(uint32_t owner) const;
  uint32_t owner_slot_count(uint32_t owner) const;
  uint32_t owner_large_first(uint32_t owner) const;
  uint32_t owner_large_count(uint32_t owner) const;
  // True when `slot` names a large buffer (the first slot of a run, shm/layout.ts).
  bool is_large(uint32_t slot) const {
    uint32_t small = d(BATON_DIR_SMALL_SLOTS);
    return slot >= small && slot < d(BATON_DIR_POOL_SLOTS) && (slot - small) % BATON_LARGE_RUN_SLOTS == 0;
  }
  // Bytes a descriptor naming `slot` may use from the slot's start.
  uint32_t slot_bytes(uint32_t slot) const { return is_large(slot) ? BATON_LARGE_RUN_SLOTS * BATON_SLOT_SIZE : BATON_SLOT_SIZE; }
  // Owner whose home `slot` is, or UINT32_MAX.
  uint32_t home_of(uint32_t slot) const;
  uint64_t *poller_counters(uint32_t poller) const;
};

}  // namespace baton
