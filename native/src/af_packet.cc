#include "af_packet.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baton_shm.h"
#include "tap.h"  // lock_interface

namespace baton {

namespace {
constexpr unsigned kBlockSize = 1 << 18;  // 256 KiB blocks
constexpr unsigned kBlockCount = 16;      // 4 MiB ring
constexpr unsigned kFrameSize = 2048;
constexpr unsigned kRetireMs = 1;         // hand over a partly filled block after 1 ms
}  // namespace

std::unique_ptr<AfPacketBackend> AfPacketBackend::open(const std::string &ifname, bool promiscuous, std::string *err) {
  std::unique_ptr<AfPacketBackend> b(new AfPacketBackend());
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) {
    *err = "interface " + ifname + " does not exist in this network namespace";
    return nullptr;
  }
  b->ifindex_ = static_cast<int>(idx);
  b->lock_fd_ = lock_interface(ifname, err);
  if (b->lock_fd_ < 0) return nullptr;

  b->rx_fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  b->tx_fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (b->rx_fd_ < 0 || b->tx_fd_ < 0) {
    *err = std::string("cannot open an AF_PACKET socket: ") + strerror(errno) + (errno == EPERM ? " (run as root or with CAP_NET_RAW)" : "");
    return nullptr;
  }
  int v = TPACKET_V3;
  if (setsockopt(b->rx_fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) {
    *err = std::string("PACKET_VERSION TPACKET_V3: ") + strerror(errno);
    return nullptr;
  }
  struct tpacket_req3 req;
  memset(&req, 0, sizeof req);
  req.tp_block_size = kBlockSize;
  req.tp_block_nr = kBlockCount;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = (kBlockSize / kFrameSize) * kBlockCount;
  req.tp_retire_blk_tov = kRetireMs;
  if (setsockopt(b->rx_fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
    *err = std::string("PACKET_RX_RING: ") + strerror(errno);
    return nullptr;
  }
  b->ring_bytes_ = static_cast<size_t>(kBlockSize) * kBlockCount;
  void *m = mmap(nullptr, b->ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, b->rx_fd_, 0);
  if (m == MAP_FAILED) m = mmap(nullptr, b->ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, b->rx_fd_, 0);
  if (m == MAP_FAILED) {
    *err = std::string("mmap of the TPACKET_V3 ring: ") + strerror(errno);
    return nullptr;
  }
  b->ring_ = static_cast<uint8_t *>(m);
  b->block_size_ = kBlockSize;
  b->block_count_ = kBlockCount;

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = b->ifindex_;
  if (bind(b->rx_fd_, reinterpret_cast<sockaddr *>(&sll), sizeof sll) != 0) {
    *err = "bind to " + ifname + ": " + strerror(errno);
    return nullptr;
  }
  sll.sll_protocol = 0;  // the tx socket receives nothing
  if (bind(b->tx_fd_, reinterpret_cast<sockaddr *>(&sll), sizeof sll) != 0) {
    *err = "bind (tx) to " + ifname + ": " + strerror(errno);
    return nullptr;
  }
  // Our own transmissions must not come back to us through the rx socket.
  int one = 1;
  setsockopt(b->rx_fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // Frames go straight to the driver, skipping the qdisc layer.
  setsockopt(b->tx_fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  if (promiscuous) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = b->ifindex_;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(b->rx_fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
      *err = "promiscuous mode on " + ifname + ": " + strerror(errno);
      return nullptr;
    }
  }
  return b;
}

int64_t AfPacketBackend::rx_lost() {
  struct tpacket_stats_v3 st;
  socklen_t len = sizeof st;
  if (getsockopt(rx_fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return -1;
  lost_ += st.tp_drops;
  return lost_;
}

AfPacketBackend::~AfPacketBackend() {
  if (ring_ != nullptr) munmap(ring_, ring_bytes_);
  if (rx_fd_ >= 0) close(rx_fd_);
  if (tx_fd_ >= 0) close(tx_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

int AfPacketBackend::rx_burst(int, RxFrame *frames, int n, uint64_t *oversize) {
  int got = 0;
  while (got < n) {
    auto *bd = reinterpret_cast<struct tpacket_block_desc *>(ring_ + static_cast<size_t>(block_) * block_size_);
    if (frame_ == nullptr) {
      // Acquire: the kernel fills the block, then sets TP_STATUS_USER.
      if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      left_ = bd->hdr.bh1.num_pkts;
      frame_ = reinterpret_cast<struct tpacket3_hdr *>(reinterpret_cast<uint8_t *>(bd) + bd->hdr.bh1.offset_to_first_pkt);
    }
    while (left_ > 0 && got < n) {
      const uint8_t *data = reinterpret_cast<const uint8_t *>(frame_) + frame_->tp_mac;
      uint32_t len = frame_->tp_snaplen;
      if (len > frames[got].cap || frame_->tp_snaplen != frame_->tp_len) {
        (*oversize)++;
      } else {
        memcpy(frames[got].buf, data, len);
        frames[got].len = len;
        frames[got].flags = (frame_->tp_status & TP_STATUS_CSUM_VALID) ? BATON_DESC_FLAG_CSUM_OK : 0;
        got++;
      }
      left_--;
      frame_ = reinterpret_cast<struct tpacket3_hdr *>(reinterpret_cast<uint8_t *>(frame_) + frame_->tp_next_offset);
    }
    if (left_ == 0) {
      // Give the block back to the kernel and move on.
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      frame_ = nullptr;
      block_ = (block_ + 1) % block_count_;
    }
  }
  return got;
}

int AfPacketBackend::tx_burst(int, const TxFrame *frames, int n) {
  constexpr int kMax = 64;
  struct mmsghdr msgs[kMax];
  struct iovec iov[kMax];
  int sent = 0;
  while (sent < n) {
    int k = n - sent < kMax ? n - sent : kMax;
    for (int i = 0; i < k; i++) {
      iov[i].iov_base = const_cast<uint8_t *>(frames[sent + i].buf);
      iov[i].iov_len = frames[sent + i].len;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(tx_fd_, msgs, static_cast<unsigned>(k), MSG_DONTWAIT);
    if (r <= 0) break;
    sent += r;
    if (r < k) break;
  }
  return sent;
}

}  // namespace baton
