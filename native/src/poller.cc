#include "poller.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster_beat.h"
#include "futex.h"
#include "steer.h"

namespace baton {

namespace {
constexpr int kBurst = 32;
// Idle passes a shadowing poller spins at most (set_shadow_spin bounds it in time).
constexpr uint32_t kShadowSpinPasses = 2000;

inline void count(uint64_t *ctr, int index, uint64_t n) {
  // One writer per counter: a relaxed store is enough for readers (no tearing on 8-byte aligned words).
  __atomic_store_n(&ctr[index], ctr[index] + n, __ATOMIC_RELAXED);
}

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Poller::Poller(const Arena &arena, Backend *dev, const PollerConfig &cfg, std::function<void()> notify_control)
    : arena_(arena), dev_(dev), cfg_(cfg), notify_control_(std::move(notify_control)) {
  endpoints_ = arena_.endpoints();
  workers_ = arena_.workers();
  control_ = arena_.control_endpoint();
  owner_ = endpoints_ + cfg_.index;
  for (uint32_t e = 0; e < endpoints_; e++) {
    rx_.push_back(arena_.ring(cfg_.index, e, BATON_RING_KIND_RX));
    tx_.push_back(arena_.ring(cfg_.index, e, BATON_RING_KIND_TX));
    free_in_.push_back(arena_.ring(cfg_.index, e, BATON_RING_KIND_FREE_TO_POLLER));
    free_out_.push_back(arena_.ring(cfg_.index, e, BATON_RING_KIND_FREE_TO_ENDPOINT));
    rx_.back().init_producer();
    tx_.back().init_consumer();
    free_in_.back().init_consumer();
    free_out_.back().init_producer();
  }
  uint32_t first = arena_.owner_first_slot(owner_);
  uint32_t n = arena_.owner_slot_count(owner_);
  published_.assign(endpoints_, 0);
  stack_.reserve(n);
  for (uint32_t i = n; i-- > 0;) stack_.push_back(first + i);
  large_first_ = arena_.owner_large_first(owner_);
  uint32_t runs = arena_.owner_large_count(owner_);
  large_span_ = runs * BATON_LARGE_RUN_SLOTS;
  lstack_.reserve(runs);
  for (uint32_t i = runs; i-- > 0;) lstack_.push_back(large_first_ + i * BATON_LARGE_RUN_SLOTS);
  ctr_ = arena_.poller_counters(cfg_.index);
}

Poller::~Poller() {
  stop();
  if (event_fd_ >= 0) close(event_fd_);
}

bool Poller::start(std::string *err) {
  if (cfg_.index >= arena_.pollers()) {
    *err = "poller index " + std::to_string(cfg_.index) + " is not in the arena (it has " + std::to_string(arena_.pollers()) + ")";
    return false;
  }
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    *err = std::string("eventfd: ") + strerror(errno);
    return false;
  }
  // Only where a park polls the device (a device without a fd naps instead), and never while spinning.
  skip_drained_ = cfg_.spin == 0 && dev_->wait_fd(cfg_.queue) >= 0;
  thread_ = std::thread([this] {
    std::string name = "baton-poll" + std::to_string(cfg_.index);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    run();
  });
  running_ = true;
  return true;
}

void Poller::stop() {
  if (!running_) return;
  stop_.store(true, std::memory_order_release);
  kick();
  thread_.join();
  running_ = false;
}

void Poller::set_shadow_spin(uint64_t ns) {
  shadow_spin_ns_.store(ns, std::memory_order_relaxed);
  kick();
}

void Poller::kick() {
  uint64_t one = 1;
  if (event_fd_ >= 0) {
    ssize_t r = write(event_fd_, &one, sizeof one);
    (void)r;  // EAGAIN means a kick is already pending: just as good
  }
}

void Poller::give_back(uint32_t slot) {
  uint32_t home = arena_.home_of(slot);
  if (home == owner_) {
    push_free(slot);
    return;
  }
  if (home < endpoints_) {
    RingView &r = free_out_[home];
    if (r.free_slots() > 0) {
      r.next_desc()[0] = slot;
      r.stage();
      r.commit();
      return;
    }
  }
  // A free ring holds every slot its home owns, so this is a protocol breach
  // (or another poller's slot sent here): count it rather than corrupt a ring.
  count(ctr_, BATON_POLLER_CTR_FREE_RING_FULL, 1);
}

uint32_t Poller::drain_free() {
  uint32_t total = 0;
  for (uint32_t e = 0; e < endpoints_; e++) {
    RingView &r = free_in_[e];
    uint32_t n = r.available();
    if (n == 0) continue;
    for (uint32_t i = 0; i < n; i++) push_free(r.desc_at(i)[0]);
    r.release(n);
    total += n;
  }
  return total;
}

uint32_t Poller::do_tx(uint32_t e) {
  RingView &r = tx_[e];
  uint32_t n = r.available();
  if (n == 0) return 0;
  if (n > kBurst) n = kBurst;
  TxFrame frames[kBurst];
  uint32_t slots[kBurst];
  uint64_t bytes = 0;
  const uint32_t offloads = dev_->offloads();
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t *d = r.desc_at(i);
    uint32_t slot = d[BATON_DESC_SLOT];
    uint32_t meta = d[BATON_DESC_META];
    uint32_t off = d[BATON_DESC_DATA] & BATON_DESC_OFFSET_MASK;
    uint32_t len = meta & BATON_DESC_LEN_MASK;
    uint32_t flags = (meta >> BATON_DESC_FLAGS_SHIFT) & BATON_DESC_FLAGS_MASK;
    // A frame asking for an offload the device lacks cannot go out right: dropped and counted.
    bool unoffered = ((flags & BATON_DESC_FLAG_CSUM_PARTIAL) != 0 && (offloads & kOffloadCsum) == 0) ||
                     ((flags & BATON_DESC_FLAG_GSO) != 0 && (offloads & kOffloadTso) == 0);
    if (slot >= arena_.d(BATON_DIR_POOL_SLOTS) || off + len > arena_.slot_bytes(slot) || unoffered) {
      // A descriptor pointing outside its slot would leak other memory onto the wire.
      len = 0;
      off = 0;
      if (slot >= arena_.d(BATON_DIR_POOL_SLOTS)) slot = UINT32_MAX;
    }
    slots[i] = slot;
    frames[i].buf = slot == UINT32_MAX ? nullptr : arena_.slot(slot) + off;
    frames[i].len = len;
    frames[i].flags = flags;
    frames[i].gso_size = (flags & BATON_DESC_FLAG_GSO) != 0 ? d[BATON_DESC_HASH] : 0;
    bytes += len;
  }
  r.release(n);
  if (e != control_) data_frames_ += n;
  // Send the well-formed ones in order; a bad descriptor is dropped and counted.
  uint32_t sent = 0, dropped = 0;
  uint32_t i = 0;
  while (i < n) {
    uint32_t j = i;
    while (j < n && frames[j].len > 0) j++;
    if (j > i) {
      int k = dev_->tx_burst(cfg_.queue, frames + i, static_cast<int>(j - i));
      sent += static_cast<uint32_t>(k);
      dropped += (j - i) - static_cast<uint32_t>(k);
    }
    if (j < n) dropped++;  // the bad one
    i = j + 1;
  }
  for (uint32_t k = 0; k < n; k++) {
    if (slots[k] != UINT32_MAX) give_back(slots[k]);
  }
  count(ctr_, BATON_POLLER_CTR_TX_FRAMES, sent);
  count(ctr_, BATON_POLLER_CTR_TX_BYTES, bytes);
  if (dropped > 0) count(ctr_, BATON_POLLER_CTR_TX_DROP_DRIVER, dropped);
  return n;
}

uint32_t Poller::do_rx() {
  if (stack_.size() < static_cast<size_t>(kBurst)) drain_free();
  int want = stack_.size() < static_cast<size_t>(kBurst) ? static_cast<int>(stack_.size()) : kBurst;
  RxFrame frames[kBurst];
  uint64_t oversize = 0;
  if (want == 0) {
    // No slot to receive into: read into scratch and count the drop, so a
    // starved pool does not leave the device queue growing.
    static thread_local uint8_t scratch[BATON_SLOT_SIZE];
    frames[0] = RxFrame{scratch, BATON_SLOT_MAX_FRAME, 0, 0};
    int got = dev_->rx_burst(cfg_.queue, frames, 1, &oversize);
    if (got > 0) count(ctr_, BATON_POLLER_CTR_RX_DROP_NO_SLOT, static_cast<uint64_t>(got));
    return static_cast<uint32_t>(got > 0 ? got : 0);
  }
  uint32_t slots[kBurst];
  // A large buffer for a frame longer than a slot (a device with receive
  // offload continues the frame there); the device ends its burst after one.
  uint32_t spare = lstack_.empty() ? UINT32_MAX : lstack_.back();
  uint8_t *spare_base = spare == UINT32_MAX ? nullptr : arena_.slot(spare) + BATON_SLOT_HEADROOM;
  for (int i = 0; i < want; i++) {
    slots[i] = stack_.back();
    stack_.pop_back();
    frames[i] = RxFrame{arena_.slot(slots[i]) + BATON_SLOT_HEADROOM, BATON_SLOT_MAX_FRAME, 0, 0};
    if (spare_base != nullptr) {
      frames[i].spill = spare_base + BATON_SLOT_MAX_FRAME;
      frames[i].spill_cap = BATON_LARGE_MAX_FRAME - BATON_SLOT_MAX_FRAME;
    }
  }
  int got = dev_->rx_burst(cfg_.queue, frames, want, &oversize);
  if (got < 0) got = 0;
  rx_drained_ = got < want;
  for (int i = want; i-- > got;) stack_.push_back(slots[i]);  // prepared, not filled
  if (oversize > 0) count(ctr_, BATON_POLLER_CTR_RX_DROP_OVERSIZE, oversize);
  if (got > 0 && frames[got - 1].len > frames[got - 1].cap) {
    // It spilled: make it whole in the large buffer (its head is in the slot) and send the buffer on instead.
    RxFrame &f = frames[got - 1];
    memcpy(spare_base, f.buf, f.cap);
    stack_.push_back(slots[got - 1]);
    slots[got - 1] = spare;
    f.buf = spare_base;
    lstack_.pop_back();
  }

  uint64_t bytes = 0;
  uint32_t to_control = 0, ring_full = 0, not_ours = 0;
  double arrival_ms = 0;  // CLOCK_MONOTONIC ms, read once per burst that has control frames
  bool stamped = false;
  for (int i = 0; i < got; i++) {
    const uint8_t *f = frames[i].buf;
    uint32_t len = frames[i].len;
    uint32_t flags = frames[i].flags;
    bytes += len;
    // L2 filter: ours, broadcast or multicast; anything else only when
    // promiscuous (a snooping backup), marked as a copy.
    bool ours = len >= 14 && ((f[0] & 1) != 0 || memcmp(f, cfg_.mac, 6) == 0);
    if (!ours) {
      if (!cfg_.promiscuous || len < 14) {
        not_ours++;
        push_free(slots[i]);
        continue;
      }
      flags |= BATON_DESC_FLAG_SNOOP;
    }
    uint32_t hash = 0;
    int cls = steer_classify(f, len, cfg_.seed, &hash);
    uint32_t e;
    if (cls == kSteerControl) {
      if (!stamped) arrival_ms = monotonic_ms();
      stamped = true;
      // A heartbeat that says nothing new ends in the heartbeat engine.
      uint32_t hb = steer_heartbeat_offset(f, len);
      if (hb != 0 && beat_engine().on_rx(f + hb, len - hb, arrival_ms) == HeartbeatEngine::kConsume) {
        push_free(slots[i]);
        continue;
      }
      e = control_;
      to_control++;
      // Control frames carry no flow hash: the word holds their arrival time instead.
      hash = static_cast<uint32_t>(static_cast<uint64_t>(arrival_ms));
    } else if (cls == kSteerFlow) {
      e = workers_ == 0 ? control_ : hash % workers_;
      flags |= BATON_DESC_FLAG_HASH_VALID;
      data_frames_++;
    } else {
      not_ours++;
      push_free(slots[i]);
      continue;
    }
    RingView &r = rx_[e];
    if (r.free_slots() == 0) {
      ring_full++;
      push_free(slots[i]);
      continue;
    }
    uint32_t *d = r.next_desc();
    d[BATON_DESC_SLOT] = slots[i];
    d[BATON_DESC_META] = (len & BATON_DESC_LEN_MASK) | ((cfg_.port & BATON_DESC_PORT_MASK) << BATON_DESC_PORT_SHIFT) |
                         ((flags & BATON_DESC_FLAGS_MASK) << BATON_DESC_FLAGS_SHIFT);
    d[BATON_DESC_HASH] = hash;
    d[BATON_DESC_DATA] = BATON_SLOT_HEADROOM;
    r.stage();
  }
  count(ctr_, BATON_POLLER_CTR_RX_FRAMES, static_cast<uint64_t>(got));
  count(ctr_, BATON_POLLER_CTR_RX_BYTES, bytes);
  if (to_control > 0) count(ctr_, BATON_POLLER_CTR_RX_TO_CONTROL, to_control);
  if (ring_full > 0) count(ctr_, BATON_POLLER_CTR_RX_DROP_RING_FULL, ring_full);
  if (not_ours > 0) count(ctr_, BATON_POLLER_CTR_RX_DROP_NOT_OURS, not_ours);
  publish_rx();
  return static_cast<uint32_t>(got) + static_cast<uint32_t>(oversize);
}

// Commits every rx ring that got frames, then wakes endpoints that sleep.
// The fence pairs with the endpoint's "store PARKED=1; load HEAD" (Dekker):
// either it sees our HEAD, or we see its PARKED flag.
void Poller::publish_rx() {
  std::vector<uint8_t> &published = published_;
  bool any = false;
  uint32_t n = endpoints_;
  for (uint32_t e = 0; e < n; e++) {
    published[e] = rx_[e].commit() > 0 ? 1 : 0;
    any = any || published[e] != 0;
  }
  if (!any) return;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  for (uint32_t e = 0; e < n; e++) {
    if (published[e] == 0) continue;
    RingView &r = rx_[e];
    if (__atomic_load_n(r.consumer_parked(), __ATOMIC_SEQ_CST) == 0) continue;
    if (e == control_) {
      // The control thread is the JS main thread: it cannot sleep in a futex.
      // One notification at a time: whoever clears the flag sends it.
      uint32_t one = 1;
      if (__atomic_compare_exchange_n(r.consumer_parked(), &one, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        count(ctr_, BATON_POLLER_CTR_WAKEUPS_SENT, 1);
        notify_control_();
      }
      continue;
    }
    // Workers sleep on the wake word of their poller-0 rx ring, whichever
    // poller has frames for them.
    uint32_t *wake = cfg_.index == 0 ? r.consumer_wake() : arena_.ring(0, e, BATON_RING_KIND_RX).consumer_wake();
    __atomic_fetch_add(wake, 1, __ATOMIC_SEQ_CST);
    futex_wake(wake, 1);
    count(ctr_, BATON_POLLER_CTR_WAKEUPS_SENT, 1);
  }
}

// Parks until the device has frames, an endpoint kicks, or a timeout: the
// timeout bounds how late timers of a backend without a pollable fd run.
void Poller::park() {
  for (uint32_t e = 0; e < endpoints_; e++) __atomic_store_n(tx_[e].consumer_parked(), 1, __ATOMIC_SEQ_CST);
  bool work = false;
  for (uint32_t e = 0; e < endpoints_ && !work; e++) work = tx_[e].available() > 0;
  if (!work && !stop_.load(std::memory_order_acquire)) {
    count(ctr_, BATON_POLLER_CTR_PARKS, 1);
    struct pollfd p[2];
    int nfds = 0;
    p[nfds++] = {event_fd_, POLLIN, 0};
    int dfd = dev_->wait_fd(cfg_.queue);
    if (dfd >= 0) p[nfds++] = {dfd, POLLIN, 0};
    // Without a device fd the poller can only nap: the naps lengthen while
    // idle (1, 2, 4 … 16 ms) so an idle node stays near 0 % CPU.
    int timeout = dfd >= 0 ? 1000 : nap_ms_;
    if (cfg_.index == 0 && beat_due_ms_ > 0) {
      double ms = std::ceil(beat_due_ms_ - monotonic_ms());
      if (ms < timeout) timeout = ms < 0 ? 0 : static_cast<int>(ms);
    }
    dev_->arm(cfg_.queue);
    int r = poll(p, static_cast<nfds_t>(nfds), timeout);
    dev_->disarm(cfg_.queue);
    if (dfd < 0) nap_ms_ = r > 0 ? 1 : (nap_ms_ < 16 ? nap_ms_ * 2 : 16);
    // The kick's eventfd only when it fired: an idle cluster wakes a few
    // hundred times a second for heartbeats, each read() that finds nothing a syscall.
    if (r > 0 && (p[0].revents & POLLIN) != 0) {
      uint64_t drain;
      ssize_t got = read(event_fd_, &drain, sizeof drain);
      (void)got;
    }
  }
  for (uint32_t e = 0; e < endpoints_; e++) __atomic_store_n(tx_[e].consumer_parked(), 0, __ATOMIC_RELAXED);
}

// Poller 0 sends the node's heartbeats and notices silent peers (cluster_beat.h).
void Poller::beat_tick() {
  double now = monotonic_ms();
  if (now < beat_due_ms_) return;
  bool notify = false;
  double next = beat_engine().tick(dev_, cfg_.queue, now, &notify);
  // Not configured: nothing due (configuring kicks this poller, which looks again).
  beat_due_ms_ = next < 0 ? now + 1000 : now + next;
  if (notify) notify_control_();
}

void Poller::run() {
  uint32_t idle = 0;
  uint64_t idle_since = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    // A shadowing backup spins longer (set_shadow_spin): every park means a
    // wake for the next snooped frame, and on a TAP that wake is the
    // sender's work (the kernel bridge's, on the primary's core in the lab).
    const uint64_t shadow_ns = shadow_spin_ns_.load(std::memory_order_relaxed);
    const bool shadow_spin = shadow_ns > cfg_.spin_ns;
    const uint64_t spin_ns = shadow_spin ? shadow_ns : cfg_.spin_ns;
    const uint32_t spin_passes = shadow_spin ? kShadowSpinPasses : cfg_.spin;
    uint32_t work = drain_free();
    for (uint32_t e = 0; e < endpoints_; e++) work += do_tx(e);
    // A parking poller (no spin) whose last burst emptied the device skips
    // one read: on TAP a read that finds nothing is a syscall, and the park's
    // poll() sees any frame that came since (the next busy pass reads).
    if (rx_drained_ && skip_drained_ && !shadow_spin) {
      rx_drained_ = false;
    } else {
      work += do_rx();
    }
    // After the receive burst: a poller that was descheduled for a while
    // reads the heartbeats waiting in its queue before it judges a peer
    // silent (otherwise a late wake alone would declare a live peer failed).
    if (cfg_.index == 0) beat_tick();
    __atomic_store_n(&ctr_[BATON_POLLER_CTR_SLOTS_FREE], static_cast<uint64_t>(stack_.size() + lstack_.size()), __ATOMIC_RELAXED);
    if (work != 0) {
      idle = 0;
      nap_ms_ = 1;
      continue;
    }
    // Spin a little before parking (back-to-back bursts are common), bounded
    // in iterations and in time; the clock is read every 16 idle passes. A
    // wake that moved no data-plane frame (an idle cluster's heartbeats)
    // spins briefly: on TAP each pass is a read() syscall, and 300 such wakes
    // a second at the full spin cost 1.5 % of a core.
    if (idle++ == 0) idle_since = monotonic_ns();
    bool lone = data_frames_ == 0;
    //
    // Every idle pass yields the core: with two cores shared by a poller, its
    // worker and a busy peer (testpmd, another node), the poller and worker
    // often share one, and a spin that keeps the core waits for the very
    // thread it keeps off it (memif reflect 0.5 -> 1.4 M/s). sched_yield()
    // returns at once when nothing else wants the core.
    if (idle < spin_passes && ((!lone && (idle & 15) != 0) || monotonic_ns() - idle_since < (lone ? cfg_.lone_spin_ns : spin_ns))) {
      sched_yield();
      continue;
    }
    park();
    idle = 0;
    data_frames_ = 0;
    // A kick may mean new heartbeat content: look at the engine at once.
    beat_due_ms_ = 0;
  }
}

}  // namespace baton
