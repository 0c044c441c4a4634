// AF_PACKET back-end: receive through a TPACKET_V3 memory-mapped ring, send
// with sendmmsg on a second socket (TPACKET_V3's ring is receive-side here;
// the version is per socket, so transmit gets its own plain socket).
#pragma once
#include <linux/if_packet.h>

#include <memory>
#include <string>

#include "backend.h"

namespace baton {

class AfPacketBackend : public Backend {
 public:
  static std::unique_ptr<AfPacketBackend> open(const std::string &ifname, bool promiscuous, std::string *err);
  ~AfPacketBackend() override;

  const char *kind() const override { return "af_packet"; }
  int rx_burst(int queue, RxFrame *frames, int n, uint64_t *oversize) override;
  int tx_burst(int queue, const TxFrame *frames, int n) override;
  int wait_fd(int) const override { return rx_fd_; }
  int queues() const override { return 1; }
  int64_t rx_lost() override;

 private:
  AfPacketBackend() = default;
  int rx_fd_ = -1;
  int tx_fd_ = -1;
  int lock_fd_ = -1;
  int ifindex_ = 0;
  uint8_t *ring_ = nullptr;
  size_t ring_bytes_ = 0;
  unsigned block_size_ = 0;
  unsigned block_count_ = 0;
  unsigned block_ = 0;                      // block being read
  struct tpacket3_hdr *frame_ = nullptr;    // next frame in that block, or null
  unsigned left_ = 0;                       // frames left in that block
  int64_t lost_ = 0;                        // PACKET_STATISTICS drops so far (the kernel resets them on each read)
};

}  // namespace baton
