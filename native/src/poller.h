// One poller thread per (port, queue): moves frames between a Backend and the
// per-endpoint rings of the arena, run to completion in bursts.
//
//   device ──rx_burst──▶ steer ──▶ RX ring (poller, endpoint)  ──▶ worker / control
//   device ◀─tx_burst─── TX ring (poller, endpoint) ◀──────────── worker / control
//   slots come home through FREE_TO_POLLER / FREE_TO_ENDPOINT rings (shm/pool.ts)
//
// Idle costs nothing: after a short spin the poller parks in poll() on the
// device fd and an eventfd that endpoints kick after queueing frames to send;
// it wakes parked workers with real futexes (V8's Atomics.wait cannot be
// woken from native code), and the control thread through a threadsafe
// function.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "arena.h"
#include "backend.h"

namespace baton {

struct PollerConfig {
  uint32_t index = 0;   // poller number in the arena (its owner is ENDPOINTS + index)
  int queue = 0;        // device queue
  uint32_t port = 0;    // port number carried in descriptors
  uint8_t mac[6] = {0};
  bool promiscuous = false;
  uint32_t seed = 0;
  uint32_t spin = 2000;          // idle iterations before parking, at most…
  uint64_t spin_ns = 50'000;     // …and at most this long: on TAP every idle pass is a read() syscall,
                                 // so an iteration count alone spun for milliseconds after every
                                 // lone frame (a cluster heartbeat every 10 ms kept a core 30 % busy)
  uint64_t lone_spin_ns = 5'000; // after a wake that moved no data-plane frame (cluster heartbeats,
                                 // ARP, control frames): the data plane keeps spin_ns
};

class Poller {
 public:
  // notify_control is called (from the poller thread) when the control
  // endpoint's rx ring got frames while the control thread was parked.
  Poller(const Arena &arena, Backend *dev, const PollerConfig &cfg, std::function<void()> notify_control);
  ~Poller();
  bool start(std::string *err);
  void stop();
  void kick();  // wakes the poller if parked (an endpoint queued frames to send)
  // While this node shadows a primary (service modes snoop and mirror) its
  // poller spins at least `ns` before parking (0: the configured spin only).
  void set_shadow_spin(uint64_t ns);

 private:
  void run();
  uint32_t drain_free();
  uint32_t do_tx(uint32_t endpoint);
  uint32_t do_rx();
  void publish_rx();
  void park();
  void give_back(uint32_t slot);
  void beat_tick();

  Arena arena_;
  Backend *dev_;
  PollerConfig cfg_;
  std::function<void()> notify_control_;
  uint32_t endpoints_ = 0;
  uint32_t workers_ = 0;
  uint32_t control_ = 0;
  uint32_t owner_ = 0;
  std::vector<RingView> rx_, tx_, free_in_, free_out_;
  std::vector<uint32_t> stack_;
  // Large buffers homed here (shm/layout.ts): the device's large frames are received into them.
  std::vector<uint32_t> lstack_;
  uint32_t large_first_ = 0;
  uint32_t large_span_ = 0;  // slots of the large area
  bool is_own_large(uint32_t slot) const { return slot - large_first_ < large_span_; }
  void push_free(uint32_t slot) {
    if (is_own_large(slot)) lstack_.push_back(slot);
    else stack_.push_back(slot);
  }
  std::vector<uint8_t> published_;
  uint64_t *ctr_ = nullptr;
  int event_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool running_ = false;
  int nap_ms_ = 1;
  // Data-plane frames (to or from a worker) moved since the last park: none gets the short spin.
  uint64_t data_frames_ = 0;
  // The last receive burst came up short (the device was empty) and the next
  // idle park polls the device: the next pass need not read it again.
  bool rx_drained_ = false;
  bool skip_drained_ = false;
  std::atomic<uint64_t> shadow_spin_ns_{0};
  // Poller 0 runs the heartbeat engine's timer (cluster_beat.h): when it is next due.
  double beat_due_ms_ = 0;
};

}  // namespace baton
