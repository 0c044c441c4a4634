// TAP back-end: queues of a multi-queue TAP device with virtio-net headers.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace baton {

class TapBackend : public Backend {
 public:
  // Attaches `queues` queues of TAP `ifname` in the calling thread's network
  // namespace (creating the device when absent). nullptr with *err on failure.
  // With `offload`, the TAP delivers and takes checksum-partial and large
  // (GSO TCP) frames (vnet.h); without, every frame is whole and plain.
  static std::unique_ptr<TapBackend> open(const std::string &ifname, int queues, bool offload, std::string *err);
  ~TapBackend() override;

  const char *kind() const override { return "tap"; }
  int rx_burst(int queue, RxFrame *frames, int n, uint64_t *oversize) override;
  int tx_burst(int queue, const TxFrame *frames, int n) override;
  int wait_fd(int queue) const override { return fds_[queue]; }
  int queues() const override { return static_cast<int>(fds_.size()); }
  uint32_t offloads() const override { return offload_ ? (kOffloadCsum | kOffloadTso) : 0; }
  bool snoop_trim(const uint32_t *ips, int n, uint32_t sample_shift, uint32_t sample_mask) override;
  int64_t rx_lost() override;

 private:
  TapBackend() = default;
  std::vector<int> fds_;
  int lock_fd_ = -1;
  int dropped_fd_ = -1;  // the device's statistics/tx_dropped in sysfs, or -1
  bool offload_ = false;
};

// Reads a sysfs counter (an open file of one decimal number) from its start; -1 on failure.
int64_t read_sysfs_counter(int fd);
// Opens /sys/class/net/<ifname>/statistics/<name> for read_sysfs_counter; -1 when absent.
int open_sysfs_counter(const std::string &ifname, const char *name);

// Takes the per-(namespace, interface) advisory lock that makes a second Baton
// on the same interface fail clearly. Returns the lock fd, or -1 with *err.
int lock_interface(const std::string &ifname, std::string *err);

}  // namespace baton
