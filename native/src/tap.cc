#include "tap.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "baton_shm.h"
#include "vnet.h"

namespace baton {

// Multi-queue TAPs accept any number of attachers, so "busy" cannot come from
// TUNSETIFF: an advisory lock per (network namespace, interface) makes a second
// Baton on the same interface fail with a clear message instead of silently
// sharing the device's queues. The kernel drops the lock when the process dies.
int lock_interface(const std::string &ifname, std::string *err) {
  struct stat ns;
  unsigned long long ino = 0;
  if (stat("/proc/self/ns/net", &ns) == 0) ino = static_cast<unsigned long long>(ns.st_ino);
  mkdir("/run/baton", 0755);
  std::string path = "/run/baton/" + std::to_string(ino) + "-" + ifname + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = "cannot create lock " + path + ": " + strerror(errno);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *err = "interface " + ifname + " is busy: another Baton process has it open";
    close(fd);
    return -1;
  }
  return fd;
}

std::unique_ptr<TapBackend> TapBackend::open(const std::string &ifname, int queues, bool offload, std::string *err) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    *err = "bad interface name '" + ifname + "'";
    return nullptr;
  }
  std::unique_ptr<TapBackend> t(new TapBackend());
  t->offload_ = offload;
  t->lock_fd_ = lock_interface(ifname, err);
  if (t->lock_fd_ < 0) return nullptr;
  for (int q = 0; q < queues; q++) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      *err = std::string("cannot open /dev/net/tun: ") + strerror(errno);
      return nullptr;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
    memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int e = errno;
      close(fd);
      if (e == EINVAL) {
        *err = "TAP " + ifname + " exists with other flags (Baton needs a multi_queue vnet_hdr tap): " + strerror(e);
      } else if (e == EBUSY) {
        *err = "TAP " + ifname + " is busy: " + strerror(e);
      } else if (e == EPERM) {
        *err = "not allowed to attach TAP " + ifname + " (run as root or with CAP_NET_ADMIN)";
      } else {
        *err = "TUNSETIFF " + ifname + ": " + strerror(e);
      }
      return nullptr;
    }
    t->fds_.push_back(fd);
    int hdr = static_cast<int>(kVnetHdrLen);
    // Offloads on: the kernel leaves checksums of local frames unfinished and
    // hands a local sender's TCP segments over uncut (vnet.h); the poller has
    // large buffers for them. Off: the kernel finishes checksums and cuts
    // segments before frames reach us, so every frame fits one pool slot.
    unsigned long off = offload ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) != 0 || ioctl(fd, TUNSETOFFLOAD, off) != 0) {
      *err = "TAP " + ifname + ": cannot set the vnet header size or offloads: " + strerror(errno);
      return nullptr;
    }
  }
  // A TAP's "transmit" is toward us: frames the kernel could not queue for
  // this process (queue full) are its tx_dropped. Optional: without sysfs the
  // device simply cannot tell (rx_lost() = -1).
  t->dropped_fd_ = open_sysfs_counter(ifname, "tx_dropped");
  return t;
}

TapBackend::~TapBackend() {
  for (int fd : fds_) close(fd);
  if (lock_fd_ >= 0) close(lock_fd_);
  if (dropped_fd_ >= 0) close(dropped_fd_);
}

int open_sysfs_counter(const std::string &ifname, const char *name) {
  std::string path = "/sys/class/net/" + ifname + "/statistics/" + name;
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

int64_t read_sysfs_counter(int fd) {
  if (fd < 0) return -1;
  char buf[32];
  ssize_t r = pread(fd, buf, sizeof buf - 1, 0);  // sysfs renders the value afresh at offset 0
  if (r <= 0) return -1;
  buf[r] = 0;
  char *end = nullptr;
  long long v = strtoll(buf, &end, 10);
  return end == buf || v < 0 ? -1 : static_cast<int64_t>(v);
}

int64_t TapBackend::rx_lost() { return read_sysfs_counter(dropped_fd_); }

int TapBackend::rx_burst(int queue, RxFrame *frames, int n, uint64_t *oversize) {
  int fd = fds_[queue];
  int got = 0;
  uint8_t vnet[kVnetHdrLen];
  // One byte past the buffers: a read cannot say it truncated a frame (tun
  // returns what fit), but a frame that reaches this byte was longer than
  // the buffers. Without it a large frame read with no large buffer free
  // went up cut to one slot, and the IPv4 parse dropped it (bad total length).
  uint8_t over;
  while (got < n) {
    RxFrame &f = frames[got];
    struct iovec iov[4] = {{vnet, sizeof vnet}, {f.buf, f.cap}, {f.spill, f.spill_cap}, {&over, 1}};
    int iovs = 4;
    if (f.spill == nullptr) {
      iov[2] = iov[3];
      iovs = 3;
    }
    ssize_t r = readv(fd, iov, iovs);
    if (r < 0) break;  // EAGAIN (empty) or an error: either way, nothing more now
    if (r <= static_cast<ssize_t>(kVnetHdrLen)) continue;
    uint32_t len = static_cast<uint32_t>(r) - kVnetHdrLen;
    uint32_t flags = 0;
    if (len > f.cap + (iovs == 4 ? f.spill_cap : 0) || !vnet_rx_flags(vnet, &flags)) {
      // Truncated (larger than the buffers) or a GSO type we did not ask for.
      (*oversize)++;
      continue;
    }
    f.len = len;
    f.flags = flags;
    got++;
    if (len > f.cap) break;  // the spill buffer is used: one per call
  }
  return got;
}

int TapBackend::tx_burst(int queue, const TxFrame *frames, int n) {
  int fd = fds_[queue];
  uint8_t vnet[kVnetHdrLen];
  int sent = 0;
  for (; sent < n; sent++) {
    const TxFrame &f = frames[sent];
    if (!offload_ && (f.flags & (BATON_DESC_FLAG_CSUM_PARTIAL | BATON_DESC_FLAG_GSO)) != 0) break;
    if (!vnet_tx_header(vnet, f.buf, f.len, f.flags, f.gso_size)) break;
    struct iovec iov[2] = {{vnet, sizeof vnet}, {const_cast<uint8_t *>(f.buf), f.len}};
    if (writev(fd, iov, 2) < 0) break;
  }
  return sent;
}

// The cut is a classic BPF socket filter on the TAP (TUNATTACHFILTER): the
// tun driver runs it on every frame it queues for user space and trims the
// frame to the length it returns (sk_filter -> pskb_trim), before the frame
// is copied to user space. A large (GSO) frame stays flagged as such; its
// IPv4 total length still says how long it was, and the shadow takes the
// segment's sequence space from the headers (dataplane/net ACCEPT_TRIMMED).
bool TapBackend::snoop_trim(const uint32_t *ips, int n, uint32_t sample_shift, uint32_t sample_mask) {
  if (fds_.empty()) return false;
  int fd = fds_[0];  // the filter is the device's: every queue gets it
  if (n <= 0) {
    struct sock_fprog none = {0, nullptr};
    return ioctl(fd, TUNDETACHFILTER, &none) == 0;
  }
  if (n > 200) return false;  // jump offsets are 8 bits
  std::vector<sock_filter> p;
  const uint8_t keep_from_list = static_cast<uint8_t>(n + 1);  // jf of the two checks before the list: to "ret keep" after it
  p.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12));                       // ethertype
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, static_cast<uint8_t>(2 + keep_from_list)));
  p.push_back(BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23));                       // IPv4 protocol
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, static_cast<uint8_t>(keep_from_list)));
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 26));                       // IPv4 source
  for (int i = 0; i < n; i++) {
    // Matched: jump past the rest of the list and the "ret keep" behind it.
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ips[i], static_cast<uint8_t>(n - i), 0));
  }
  p.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));                       // not a shadowed source: whole
  // A shadowed source's TCP segment.
  p.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20));                       // flags, fragment offset
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 11, 0));          // a fragment: whole
  p.push_back(BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14));                      // X = IPv4 header length
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_IND, 18));                       // TCP sequence number (14 + X + 4)
  p.push_back(BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, sample_shift));
  p.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, sample_mask));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 6, 0));                 // a sampled segment: whole
  p.push_back(BPF_STMT(BPF_LD | BPF_B | BPF_IND, 26));                       // TCP data offset (14 + X + 12)
  p.push_back(BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4));
  p.push_back(BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2));
  p.push_back(BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0));
  p.push_back(BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 14));
  p.push_back(BPF_STMT(BPF_RET | BPF_A, 0));                                 // Ethernet + IPv4 + TCP headers
  p.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));
  struct sock_fprog prog = {static_cast<unsigned short>(p.size()), p.data()};
  return ioctl(fd, TUNATTACHFILTER, &prog) == 0;
}

}  // namespace baton
