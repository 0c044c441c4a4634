// A packet device as the poller sees it: bursts of frames in and out of
// caller-provided buffers. Implementations: TAP, AF_PACKET (TPACKET_V3), DPDK.
#pragma once
#include <cstdint>
#include <string>

namespace baton {

struct RxFrame {
  uint8_t *buf;    // where to put the frame (the slot's data start)
  uint32_t cap;    // bytes available at buf
  uint32_t len;    // out: frame length
  uint32_t flags;  // out: DESC_FLAG_* the device can vouch for (CSUM_OK, CSUM_PARTIAL, GSO)
  // Where bytes past `cap` go (a large buffer), or null: a device with large
  // receive offload continues the frame there, and the burst ends after such
  // a frame (one spill buffer per call). len > cap says it spilled.
  uint8_t *spill = nullptr;
  uint32_t spill_cap = 0;
};

struct TxFrame {
  const uint8_t *buf;
  uint32_t len;
  uint32_t flags;         // DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO
  uint32_t gso_size = 0;  // DESC_FLAG_GSO: payload bytes per segment
};

// What a device can do beyond plain frames (Backend::offloads()).
constexpr uint32_t kOffloadCsum = 1;  // takes CSUM_PARTIAL frames, may deliver them
constexpr uint32_t kOffloadTso = 2;   // takes GSO frames (TCPv4), may deliver large ones

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char *kind() const = 0;
  // Fills up to n frames; returns how many. Never blocks. Frames longer than
  // cap are dropped by the device and counted in *oversize.
  virtual int rx_burst(int queue, RxFrame *frames, int n, uint64_t *oversize) = 0;
  // Sends up to n frames; returns how many the device took (the rest are the
  // caller's to count as dropped: nothing is retried behind its back).
  virtual int tx_burst(int queue, const TxFrame *frames, int n) = 0;
  // File descriptor to poll() for readability while idle, or -1 (the poller
  // then sleeps in short timed naps).
  virtual int wait_fd(int queue) const = 0;
  // Called before/after the poller sleeps on wait_fd (DPDK: rx interrupts on/off).
  virtual void arm(int) {}
  virtual void disarm(int) {}
  virtual int queues() const = 0;
  // Frames the device lost on their way in because this process did not read
  // them in time (its queue toward us was full), summed over queues since
  // open; -1 when the device cannot tell. The heartbeat engine does not take a
  // peer's silence for failure while this rises (cluster_beat.h): a heartbeat
  // may have been among them. Called by poller 0 only.
  virtual int64_t rx_lost() { return -1; }
  // kOffload* bits; 0 (plain frames only) unless the device was opened with offloads.
  virtual uint32_t offloads() const { return 0; }
  // A snooping backup's port: frames from the `n` IPv4 sources `ips` (the
  // primaries it shadows) that carry TCP payload reach user space cut after
  // their TCP headers, but those whose sequence number has
  // ((seq >> sample_shift) & sample_mask) == 0 (the shadow compares those);
  // the device cuts them before they are copied (a TAP's socket filter). n = 0
  // removes the cut. Returns false where the device cannot.
  virtual bool snoop_trim(const uint32_t *ips, int n, uint32_t sample_shift, uint32_t sample_mask) {
    (void)ips;
    (void)n;
    (void)sample_shift;
    (void)sample_mask;
    return false;
  }
};

}  // namespace baton
