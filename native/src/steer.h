// Steering: which endpoint a received frame goes to. The symmetric flow hash
// is the exact algorithm of dataplane/net/flow-hash.ts (MurmurHash3_x86_32 of
// the canonically ordered 5-tuple); test/unit/native/steer.test.ts checks the
// two agree bit for bit.
//
// Connection-transfer frames (ethertype BATON_ETHERTYPE_HANDOFF, see
// dataplane/handoff/wire.ts) carry the moved connection's 4-tuple at a fixed
// offset and are steered by its TCP flow hash: the transfer reaches the worker
// that the connection's own segments reach, on the origin and on the target.
#pragma once
#include <cstdint>

#include "baton_shm.h"

namespace baton {

constexpr uint32_t kFlowHashSeedDefault = 0x62617430;  // "bat0", as FLOW_HASH_SEED

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline uint32_t murmur_mix(uint32_t h, uint32_t k) {
  k *= 0xcc9e2d51u;
  k = rotl32(k, 15);
  k *= 0x1b873593u;
  h ^= k;
  h = rotl32(h, 13);
  return h * 5u + 0xe6546b64u;
}

inline uint32_t flow_hash(uint32_t src_ip, uint32_t dst_ip, uint32_t src_port, uint32_t dst_port, uint32_t proto, uint32_t seed) {
  uint32_t ip_a = src_ip, ip_b = dst_ip, port_a = src_port, port_b = dst_port;
  if (ip_a > ip_b || (ip_a == ip_b && port_a > port_b)) {
    ip_a = dst_ip;
    ip_b = src_ip;
    port_a = dst_port;
    port_b = src_port;
  }
  uint32_t h = seed;
  h = murmur_mix(h, ip_a);
  h = murmur_mix(h, ip_b);
  h = murmur_mix(h, ((port_a & 0xffff) << 16) | (port_b & 0xffff));
  h = murmur_mix(h, proto);
  h ^= 16;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

enum SteerClass : int {
  kSteerFlow = 0,     // IPv4: to a worker by flow hash
  kSteerControl = 1,  // ARP, cluster control: to the control endpoint
  kSteerDrop = 2,     // not for us / malformed at L2
};

// Ethertype of Baton's cluster-control frames (IEEE 802 local experimental 1).
constexpr uint16_t kEtherTypeCluster = 0x88b5;
// Ethertype of mirror frames (service mode mirror): a primary's copy of one of
// its connection's frames, the original frame whole after this header. Steered
// by the inner frame's flow hash, so it reaches the worker holding the shadow.
constexpr uint16_t kEtherTypeMirror = 0x88b7;
// Inside a mirror frame only: a backup's request to repair a gap in a shadow,
// an IPv4 + TCP header naming the connection (dataplane/mirror.ts).
constexpr uint16_t kEtherTypeRepair = 0x88b8;
// Mirror copies batched (dataplane/mirror.ts): after this header, records of
// [u16 length][frame]; steered by the first frame's flow hash.
constexpr uint16_t kEtherTypeMirrorBatch = 0x88b9;

// Cluster-control frames carry a seal header after the Ethernet header
// (control/wire/frame.ts): magic 0x4263, version, flags. Flags bit 0 marks a
// heartbeat in the fixed layout the native heartbeat engine checks
// (cluster_beat.h): such a frame is the pollers' business first.
constexpr uint16_t kClusterMagic = 0x4263;
constexpr uint8_t kClusterFlagHeartbeat = 1;

// Offset of the cluster payload (the seal header) of a heartbeat frame, or 0.
inline uint32_t steer_heartbeat_offset(const uint8_t *f, uint32_t len) {
  if (len < 18) return 0;
  uint32_t off = 12;
  uint16_t et = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  if (et == 0x8100) {
    if (len < 22) return 0;
    off += 4;
    et = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if (et != kEtherTypeCluster || len < off + 4) return 0;
  if (static_cast<uint16_t>(f[off] << 8 | f[off + 1]) != kClusterMagic) return 0;
  return (f[off + 3] & kClusterFlagHeartbeat) != 0 ? off : 0;
}

// Classifies frame[0..len) and computes its flow hash. Reads only within len.
// IPv4 fragments and non-TCP/UDP protocols hash on addresses alone (ports 0),
// so every fragment of a datagram and every ICMP message of a pair of hosts
// land on one worker.
inline int steer_classify(const uint8_t *f, uint32_t len, uint32_t seed, uint32_t *hash, bool inner = false) {
  if (len < 14) return kSteerDrop;
  uint32_t off = 12;
  uint16_t et = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  if (et == 0x8100) {
    if (len < 18) return kSteerDrop;
    off += 4;
    et = static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if ((et == kEtherTypeMirror || et == kEtherTypeMirrorBatch) && !inner) {
    // One level only: a mirror frame inside a mirror frame is dropped.
    uint32_t skip = et == kEtherTypeMirrorBatch ? 2 : 0;
    if (len < off + skip) return kSteerDrop;
    int c = steer_classify(f + off + skip, len - off - skip, seed, hash, true);
    return c == kSteerFlow ? kSteerFlow : kSteerDrop;
  }
  if (inner && et != 0x0800 && et != kEtherTypeRepair) return kSteerDrop;
  if (et == 0x0806 || et == kEtherTypeCluster) return kSteerControl;
  if (et == BATON_ETHERTYPE_HANDOFF && !inner) {
    const uint32_t t = off + BATON_HANDOFF_TUPLE_OFFSET;
    if (len < t + 12) {
      *hash = 0;
      return kSteerFlow;  // the worker finds it truncated and counts it
    }
    const uint8_t *p = f + t;
    uint32_t lip = static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
    uint32_t rip = static_cast<uint32_t>(p[4]) << 24 | p[5] << 16 | p[6] << 8 | p[7];
    uint32_t lport = static_cast<uint32_t>(p[8] << 8 | p[9]);
    uint32_t rport = static_cast<uint32_t>(p[10] << 8 | p[11]);
    *hash = flow_hash(rip, lip, rport, lport, 6, seed);
    return kSteerFlow;
  }
  if (et != 0x0800 && !(inner && et == kEtherTypeRepair)) return kSteerDrop;
  if (len < off + 20) {
    *hash = 0;
    return kSteerFlow;  // the worker parses, finds it truncated and counts it
  }
  const uint8_t *ip = f + off;
  uint32_t ihl = (ip[0] & 0x0f) * 4u;
  uint32_t proto = ip[9];
  uint32_t src = static_cast<uint32_t>(ip[12]) << 24 | ip[13] << 16 | ip[14] << 8 | ip[15];
  uint32_t dst = static_cast<uint32_t>(ip[16]) << 24 | ip[17] << 16 | ip[18] << 8 | ip[19];
  bool fragment = ((ip[6] & 0x3f) | ip[7]) != 0;  // MF or offset
  uint32_t sp = 0, dp = 0;
  if ((proto == 6 || proto == 17) && !fragment && ihl >= 20 && len >= off + ihl + 4) {
    sp = static_cast<uint32_t>(ip[ihl] << 8 | ip[ihl + 1]);
    dp = static_cast<uint32_t>(ip[ihl + 2] << 8 | ip[ihl + 3]);
  }
  *hash = flow_hash(src, dst, sp, dp, proto, seed);
  return kSteerFlow;
}

}  // namespace baton
