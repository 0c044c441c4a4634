#include "dpdk.h"

#include <cstring>

#include "baton_shm.h"

#ifdef BATON_HAVE_DPDK
#include <net/if.h>
#include <unistd.h>

#include "tap.h"
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#endif

namespace baton {

#ifdef BATON_HAVE_DPDK

bool dpdk_available() { return true; }

const DpdkLayout *dpdk_layout(int *count) {
  static const DpdkLayout table[] = {
      {"sizeof_eth_conf", static_cast<long>(sizeof(struct rte_eth_conf))},
      {"sizeof_eth_stats", static_cast<long>(sizeof(struct rte_eth_stats))},
      {"sizeof_eth_link", static_cast<long>(sizeof(struct rte_eth_link))},
      {"stats_ipackets", static_cast<long>(offsetof(struct rte_eth_stats, ipackets))},
      {"stats_opackets", static_cast<long>(offsetof(struct rte_eth_stats, opackets))},
      {"stats_ibytes", static_cast<long>(offsetof(struct rte_eth_stats, ibytes))},
      {"stats_obytes", static_cast<long>(offsetof(struct rte_eth_stats, obytes))},
      {"stats_imissed", static_cast<long>(offsetof(struct rte_eth_stats, imissed))},
      {"stats_ierrors", static_cast<long>(offsetof(struct rte_eth_stats, ierrors))},
      {"stats_oerrors", static_cast<long>(offsetof(struct rte_eth_stats, oerrors))},
      {"stats_rx_nombuf", static_cast<long>(offsetof(struct rte_eth_stats, rx_nombuf))},
      {"eth_conf_intr_conf", static_cast<long>(offsetof(struct rte_eth_conf, intr_conf))},
      {"mbuf_default_buf_size", static_cast<long>(RTE_MBUF_DEFAULT_BUF_SIZE)},
      {"pktmbuf_headroom", static_cast<long>(RTE_PKTMBUF_HEADROOM)},
  };
  *count = static_cast<int>(sizeof table / sizeof table[0]);
  return table;
}

namespace {

class DpdkBackend : public Backend {
 public:
  DpdkBackend(uint16_t port, int queues, struct rte_mempool *pool, bool rx_intr) : port_(port), queues_(queues), pool_(pool) {
    for (int q = 0; q < queues && q < kMaxQueues; q++) {
      // Rx interrupts give the poller an fd to sleep on; without them it naps.
      fds_[q] = rx_intr ? rte_eth_dev_rx_intr_ctl_q_get_fd(port, static_cast<uint16_t>(q)) : -1;
    }
    // net_tap: the PMD reads a kernel TAP, whose full queue drops frames
    // before the PMD (and its imissed) ever sees them: that TAP's tx_dropped.
    struct rte_eth_dev_info info;
    char name[IF_NAMESIZE];
    if (rte_eth_dev_info_get(port, &info) == 0 && info.driver_name != nullptr && strcmp(info.driver_name, "net_tap") == 0 &&
        info.if_index != 0 && if_indextoname(info.if_index, name) != nullptr) {
      tap_dropped_fd_ = open_sysfs_counter(name, "tx_dropped");
    }
  }
  ~DpdkBackend() override {
    if (tap_dropped_fd_ >= 0) close(tap_dropped_fd_);
  }
  const char *kind() const override { return "dpdk"; }
  int queues() const override { return queues_; }
  int wait_fd(int q) const override { return q < kMaxQueues ? fds_[q] : -1; }
  void arm(int q) override {
    if (wait_fd(q) >= 0) rte_eth_dev_rx_intr_enable(port_, static_cast<uint16_t>(q));
  }
  void disarm(int q) override {
    if (wait_fd(q) >= 0) rte_eth_dev_rx_intr_disable(port_, static_cast<uint16_t>(q));
  }

  // Frames are copied out of the mbuf into the pool slot: one copy, and the
  // mbuf goes straight back to DPDK so its pool never drains into our rings.
  int rx_burst(int queue, RxFrame *frames, int n, uint64_t *oversize) override {
    struct rte_mbuf *m[64];
    if (n > 64) n = 64;
    uint16_t got = rte_eth_rx_burst(port_, static_cast<uint16_t>(queue), m, static_cast<uint16_t>(n));
    int out = 0;
    for (uint16_t i = 0; i < got; i++) {
      uint32_t len = rte_pktmbuf_pkt_len(m[i]);
      if (len > frames[out].cap || m[i]->nb_segs != 1) {
        (*oversize)++;
      } else {
        memcpy(frames[out].buf, rte_pktmbuf_mtod(m[i], const uint8_t *), len);
        frames[out].len = len;
        uint64_t ol = m[i]->ol_flags;
        bool ip_ok = (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
        bool l4_ok = (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        frames[out].flags = ip_ok && l4_ok ? BATON_DESC_FLAG_CSUM_OK : 0;
        out++;
      }
      rte_pktmbuf_free(m[i]);
    }
    return out;
  }

  int tx_burst(int queue, const TxFrame *frames, int n) override {
    struct rte_mbuf *m[64];
    if (n > 64) n = 64;
    if (rte_pktmbuf_alloc_bulk(pool_, m, static_cast<unsigned>(n)) != 0) return 0;
    for (int i = 0; i < n; i++) {
      char *p = rte_pktmbuf_append(m[i], static_cast<uint16_t>(frames[i].len));
      if (p != nullptr) memcpy(p, frames[i].buf, frames[i].len);
    }
    uint16_t sent = rte_eth_tx_burst(port_, static_cast<uint16_t>(queue), m, static_cast<uint16_t>(n));
    for (int i = sent; i < n; i++) rte_pktmbuf_free(m[i]);
    return sent;
  }

  // The port's missed frames (its rx ring full) and mbuf allocation failures, plus a net_tap's kernel-side drops.
  int64_t rx_lost() override {
    struct rte_eth_stats st;
    if (rte_eth_stats_get(port_, &st) != 0) return -1;
    int64_t n = static_cast<int64_t>(st.imissed + st.rx_nombuf);
    int64_t k = read_sysfs_counter(tap_dropped_fd_);
    return k > 0 ? n + k : n;
  }

 private:
  static constexpr int kMaxQueues = 16;
  uint16_t port_;
  int queues_;
  struct rte_mempool *pool_;
  int fds_[kMaxQueues] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  int tap_dropped_fd_ = -1;
};

}  // namespace

std::unique_ptr<Backend> dpdk_open(int port_id, int queues, const std::string &pool_name, bool rx_intr, std::string *err) {
  if (port_id < 0 || !rte_eth_dev_is_valid_port(static_cast<uint16_t>(port_id))) {
    *err = "DPDK port " + std::to_string(port_id) + " is not valid (was the EAL initialised and the port configured?)";
    return nullptr;
  }
  struct rte_mempool *pool = rte_mempool_lookup(pool_name.c_str());
  if (pool == nullptr) {
    *err = "DPDK mbuf pool '" + pool_name + "' not found";
    return nullptr;
  }
  return std::unique_ptr<Backend>(new DpdkBackend(static_cast<uint16_t>(port_id), queues, pool, rx_intr));
}

#else  // no libdpdk at build time

bool dpdk_available() { return false; }

const DpdkLayout *dpdk_layout(int *count) {
  *count = 0;
  return nullptr;
}

std::unique_ptr<Backend> dpdk_open(int, int, const std::string &, bool, std::string *err) {
  *err = "this build of Baton has no DPDK support: libdpdk was not found by pkg-config when the addon was built "
         "(apt-get install libdpdk-dev, then npm run build)";
  return nullptr;
}

#endif

}  // namespace baton
