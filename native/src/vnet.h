// The virtio-net header a TAP with IFF_VNET_HDR puts before every frame, both
// ways (linux/virtio_net.h, 10 bytes, little-endian on every host Baton runs
// on), and how it maps to descriptor flags (shm/layout.ts DESC_FLAG_*).
//
//   byte 0  flags        NEEDS_CSUM (1): the L4 checksum field holds only the
//                        pseudo-header sum; finish it over [csum_start, end)
//                        and store it at csum_start + csum_offset.
//                        DATA_VALID (2): the checksum was verified (rx only).
//   byte 1  gso_type     NONE (0), TCPV4 (1), UDPV4 (3), TCPV6 (4); ECN (0x80)
//   2..3    hdr_len      bytes of headers (eth + ip + tcp) of a GSO frame
//   4..5    gso_size     payload bytes per segment (the MSS)
//   6..7    csum_start   offset of the L4 header from the frame start
//   8..9    csum_offset  offset of the checksum field from csum_start
//
// Receive (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): the kernel
// hands us a local sender's TCP segments uncut (GSO, up to 64 KB) and leaves
// the checksums of locally built frames unfinished (NEEDS_CSUM). Both are
// frames that never crossed a wire, so they are trusted as verified.
// Transmit: a frame with DESC_FLAG_CSUM_PARTIAL or DESC_FLAG_GSO gets
// NEEDS_CSUM with csum_start/offset found from its headers; with GSO also
// gso_type TCPV4 and gso_size, and the kernel cuts it into MSS segments
// (fixing IP length, id and checksum, and the TCP sequence, flags and checksum
// of each).
#pragma once
#include <cstdint>
#include <cstring>

#include "baton_shm.h"

namespace baton {

constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kVnetFNeedsCsum = 1;
constexpr uint8_t kVnetFDataValid = 2;
constexpr uint8_t kVnetGsoNone = 0;
constexpr uint8_t kVnetGsoTcpV4 = 1;
constexpr uint8_t kVnetGsoTcpV6 = 4;
constexpr uint8_t kVnetGsoEcn = 0x80;

// Descriptor flags for a received frame's header; false when the frame must
// be dropped (a GSO type we never asked for: UDP fragmentation offload).
inline bool vnet_rx_flags(const uint8_t *h, uint32_t *flags) {
  uint32_t f = 0;
  if ((h[0] & kVnetFDataValid) != 0) f |= BATON_DESC_FLAG_CSUM_OK;
  if ((h[0] & kVnetFNeedsCsum) != 0) f |= BATON_DESC_FLAG_CSUM_PARTIAL;
  uint8_t gso = h[1] & static_cast<uint8_t>(~kVnetGsoEcn);
  if (gso == kVnetGsoTcpV4 || gso == kVnetGsoTcpV6) {
    f |= BATON_DESC_FLAG_GSO;
  } else if (gso != kVnetGsoNone) {
    return false;
  }
  *flags = f;
  return true;
}

// Writes the header for sending `frame` with descriptor `flags` (gso_size:
// the MSS, for DESC_FLAG_GSO). A plain frame gets an all-zero header. False
// when the frame asks for an offload its headers do not allow (not IPv4 TCP
// or UDP, truncated, a GSO frame that is not TCP or has no payload past one
// segment's worth of headers): the caller drops it.
inline bool vnet_tx_header(uint8_t *h, const uint8_t *frame, uint32_t len, uint32_t flags, uint32_t gso_size) {
  memset(h, 0, kVnetHdrLen);
  bool gso = (flags & BATON_DESC_FLAG_GSO) != 0;
  if (!gso && (flags & BATON_DESC_FLAG_CSUM_PARTIAL) == 0) return true;
  uint32_t l3 = 14;
  if (len < l3) return false;
  uint16_t type = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  if (type == 0x8100) {
    l3 = 18;
    if (len < l3) return false;
    type = static_cast<uint16_t>(frame[16] << 8 | frame[17]);
  }
  if (type != 0x0800 || len < l3 + 20 || (frame[l3] >> 4) != 4) return false;
  uint32_t l4 = l3 + (frame[l3] & 0x0f) * 4u;
  uint8_t proto = frame[l3 + 9];
  uint32_t off;
  if (proto == 6) {
    off = 16;
    if (len < l4 + 20) return false;
  } else if (proto == 17 && !gso) {
    off = 6;
    if (len < l4 + 8) return false;
  } else {
    return false;
  }
  h[0] = kVnetFNeedsCsum;
  h[6] = static_cast<uint8_t>(l4);
  h[7] = static_cast<uint8_t>(l4 >> 8);
  h[8] = static_cast<uint8_t>(off);
  if (gso) {
    uint32_t hdr = l4 + (frame[l4 + 12] >> 4) * 4u;
    if (gso_size == 0 || gso_size > 0xffff || hdr > len) return false;
    // One segment's worth or less needs no cutting: send it whole.
    if (len - hdr > gso_size) {
      h[1] = kVnetGsoTcpV4;
      h[2] = static_cast<uint8_t>(hdr);
      h[3] = static_cast<uint8_t>(hdr >> 8);
      h[4] = static_cast<uint8_t>(gso_size);
      h[5] = static_cast<uint8_t>(gso_size >> 8);
    }
  }
  return true;
}

}  // namespace baton
