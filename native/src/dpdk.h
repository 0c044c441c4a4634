// DPDK back-end: the burst loop only. EAL, port and queue set-up, MAC, link,
// stats and promiscuous mode are called from TypeScript through ffi-rs
// (native/dpdk.ts); rte_eth_rx_burst / tx_burst and the mbuf helpers are
// inline functions, so they live here, compiled against libdpdk.
#pragma once
#include <memory>
#include <string>

#include "backend.h"

namespace baton {

// True when this addon was built against libdpdk.
bool dpdk_available();

// Layout facts of this DPDK build that native/dpdk.ts needs to size buffers
// for ffi-rs calls: name → value.
struct DpdkLayout {
  const char *name;
  long value;
};
const DpdkLayout *dpdk_layout(int *count);

// Wraps an already configured and started ethdev port. `pool_name` is the
// mbuf pool used for transmit (rte_mempool_lookup); `rx_intr` says the port
// was configured with rx interrupts (intr_conf.rxq), so the poller can sleep
// on their fds.
std::unique_ptr<Backend> dpdk_open(int port_id, int queues, const std::string &pool_name, bool rx_intr, std::string *err);

}  // namespace baton
