#include "cluster_beat.h"

#include <time.h>

#include <cmath>
#include <cstring>

namespace baton {

namespace {
constexpr uint16_t kEtherTypeCluster = 0x88b5;
constexpr uint16_t kMagic = 0x4263;
constexpr uint8_t kWireVersion = 1;
constexpr uint8_t kFlagHeartbeat = 1;

inline uint32_t rd32(const uint8_t *p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
inline uint16_t rd16(const uint8_t *p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline double rdf64(const uint8_t *p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u |= uint64_t(p[i]) << (8 * i);
  double d;
  memcpy(&d, &u, 8);
  return d;
}
inline void wrf64(uint8_t *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(u >> (8 * i));
}
// Doubles in the shared table: one writer each; aligned 8-byte accesses do not tear.
inline void store(double *p, double v) { __atomic_store(p, &v, __ATOMIC_RELAXED); }
inline double load(const double *p) {
  double v;
  __atomic_load(const_cast<double *>(p), &v, __ATOMIC_RELAXED);
  return v;
}
}  // namespace

double monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

HeartbeatEngine &beat_engine() {
  static HeartbeatEngine engine;
  return engine;
}

void HeartbeatEngine::configure(const BeatConfig &cfg) {
  std::lock_guard<std::mutex> lock(mu_);
  cfg_ = cfg;
  hmac_sha256_key(&key_, cfg_.key.data(), cfg_.key.size());
  peers_.clear();
  for (size_t i = 0; i < cfg_.peers.size() && i < static_cast<size_t>(kBeatMaxPeers); i++) {
    peers_.push_back(Peer{cfg_.peers[i]});
    store(field(static_cast<int>(i), kPeerId), cfg_.peers[i]);
    store(field(static_cast<int>(i), kPeerIncarnation), -1);
    store(field(static_cast<int>(i), kPeerLastHeard), 0);
  }
  __atomic_store_n(word(kBeatSilent), 0, __ATOMIC_SEQ_CST);
  has_content_ = false;
  lost_seen_ = -1;
  lost_read_at_ = -INFINITY;
  deaf_at_ = 0;
  enabled_ = true;
}

void HeartbeatEngine::disable() {
  std::lock_guard<std::mutex> lock(mu_);
  enabled_ = false;
  cfg_.table = nullptr;
}

void HeartbeatEngine::set_content(double incarnation, uint32_t version, uint8_t state) {
  std::lock_guard<std::mutex> lock(mu_);
  incarnation_ = incarnation;
  version_ = version;
  state_ = state;
  has_content_ = true;
  next_send_ = 0;
}

void HeartbeatEngine::send(Backend *dev, int queue) {
  uint8_t f[14 + kBeatPayloadLen];
  memset(f, 0xff, 6);
  memcpy(f + 6, cfg_.mac, 6);
  f[12] = kEtherTypeCluster >> 8;
  f[13] = kEtherTypeCluster & 0xff;
  uint8_t *p = f + 14;
  p[0] = kMagic >> 8;
  p[1] = kMagic & 0xff;
  p[2] = kWireVersion;
  p[3] = kFlagHeartbeat;
  p[4] = 0;
  p[5] = kBeatBodyLen;
  uint8_t *b = p + kBeatSealHeader;
  memset(b, 0, kBeatBodyLen);
  wr32(b, cfg_.cluster);
  wr16(b + 4, cfg_.self);
  wr16(b + 6, 0);
  wrf64(b + 8, incarnation_);
  wr32(b + 16, static_cast<uint32_t>(__atomic_add_fetch(word(kBeatSeq), 1, __ATOMIC_SEQ_CST)));
  wr32(b + 20, version_);
  b[24] = state_;
  hmac_sha256(key_, p, kBeatSealHeader + kBeatBodyLen, p + kBeatSealHeader + kBeatBodyLen);
  TxFrame t{f, static_cast<uint32_t>(sizeof f), 0};
  if (dev->tx_burst(queue, &t, 1) == 1) __atomic_add_fetch(word(kBeatSent), 1, __ATOMIC_RELAXED);
}

HeartbeatEngine::Verdict HeartbeatEngine::on_rx(const uint8_t *p, uint32_t len, double now) {
  // Anything unusual goes on to the control thread, which counts it by kind.
  if (len < static_cast<uint32_t>(kBeatPayloadLen)) return kForward;
  if ((p[0] << 8 | p[1]) != kMagic || p[2] != kWireVersion || (p[3] & kFlagHeartbeat) == 0) return kForward;
  if ((p[4] << 8 | p[5]) != kBeatBodyLen) return kForward;
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_ || cfg_.table == nullptr) return kForward;
  uint8_t mac[32];
  hmac_sha256(key_, p, kBeatSealHeader + kBeatBodyLen, mac);
  uint8_t diff = 0;
  for (int i = 0; i < 32; i++) diff |= static_cast<uint8_t>(mac[i] ^ p[kBeatSealHeader + kBeatBodyLen + i]);
  if (diff != 0) return kForward;
  const uint8_t *b = p + kBeatSealHeader;
  uint32_t cluster = rd32(b);
  uint16_t sender = rd16(b + 4);
  uint16_t to = rd16(b + 6);
  double incarnation = rdf64(b + 8);
  uint32_t seq = rd32(b + 16);
  uint32_t version = rd32(b + 20);
  uint8_t state = b[24];
  if (cluster != cfg_.cluster || sender == cfg_.self || (to != 0 && to != cfg_.self) || !std::isfinite(incarnation)) return kForward;
  int i = 0;
  while (i < static_cast<int>(peers_.size()) && peers_[i].id != sender) i++;
  if (i == static_cast<int>(peers_.size())) return kForward;
  Peer &peer = peers_[i];
  // Replay (control/wire/replay-window.ts keeps a window for the rest; heartbeats only move forwards).
  if (incarnation < peer.incarnation || (incarnation == peer.incarnation && seq <= peer.top)) {
    __atomic_add_fetch(word(kBeatDroppedReplay), 1, __ATOMIC_RELAXED);
    return kConsume;
  }
  bool restarted = incarnation != peer.incarnation;
  bool was_expired = peer.expired;
  peer.incarnation = incarnation;
  peer.top = seq;
  peer.last_heard = now;
  peer.excusing = false;
  if (peer.expired) __atomic_and_fetch(word(kBeatSilent), ~(1 << i), __ATOMIC_SEQ_CST);
  peer.expired = false;
  store(field(i, kPeerIncarnation), incarnation);
  store(field(i, kPeerLastHeard), now);
  store(field(i, kPeerState), state);
  store(field(i, kPeerVersion), version);
  bool acked = load(field(i, kPeerAckIncarnation)) == incarnation && load(field(i, kPeerAckState)) == state &&
               load(field(i, kPeerAckVersion)) == version;
  if (restarted || was_expired || !acked) {
    __atomic_add_fetch(word(kBeatForwarded), 1, __ATOMIC_RELAXED);
    return kForward;
  }
  __atomic_add_fetch(word(kBeatConsumed), 1, __ATOMIC_RELAXED);
  return kConsume;
}

double HeartbeatEngine::tick(Backend *dev, int queue, double now, bool *notify) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_ || cfg_.table == nullptr) return -1;
  double due = INFINITY;
  if (has_content_) {
    // Up to a quarter interval early when the poller is awake anyway (a
    // peer's heartbeat woke it): one wake instead of two, the cadence kept.
    if (now >= next_send_ - cfg_.interval_ms * 0.25) {
      send(dev, queue);
      // Keep the cadence; after a stall (or new content) restart it from now.
      next_send_ = next_send_ == 0 || now - next_send_ >= cfg_.interval_ms ? now + cfg_.interval_ms : next_send_ + cfg_.interval_ms;
    }
    due = next_send_;
  }
  // Frames lost on the way in since the last look: silence up to now proves
  // nothing. Looked at twice an interval at most: the poller ticks after every
  // wake, and the count is a syscall (a TAP's sysfs file, DPDK's stats).
  if (now - lost_read_at_ >= cfg_.interval_ms * 0.5) {
    lost_read_at_ = now;
    int64_t lost = dev->rx_lost();
    if (lost >= 0) {
      if (lost_seen_ >= 0 && lost > lost_seen_) deaf_at_ = now;
      lost_seen_ = lost;
    }
  }
  for (size_t i = 0; i < peers_.size(); i++) {
    Peer &p = peers_[i];
    if (p.last_heard == 0 || p.expired) continue;
    double heard = p.excused_to > p.last_heard ? p.excused_to : p.last_heard;
    if (deaf_at_ > heard && cfg_.loss_grace_ms > 0) {
      double to = std::fmin(deaf_at_, p.last_heard + cfg_.loss_grace_ms);
      if (to > heard) {
        if (now - heard > cfg_.timeout_ms && !p.excusing) {
          p.excusing = true;
          __atomic_add_fetch(word(kBeatExcused), 1, __ATOMIC_RELAXED);
        }
        heard = to;
        p.excused_to = to;
        store(field(static_cast<int>(i), kPeerLastHeard), to);  // the control thread judges from this too
      }
    }
    if (now - heard > cfg_.timeout_ms) {
      p.expired = true;
      __atomic_or_fetch(word(kBeatSilent), 1 << i, __ATOMIC_SEQ_CST);
      __atomic_store_n(word(kBeatEvents), 1, __ATOMIC_SEQ_CST);
      *notify = true;
    } else if (heard + cfg_.timeout_ms < due) {
      due = heard + cfg_.timeout_ms;
    }
  }
  if (due == INFINITY) return -1;
  // A detection deadline is "silent for more than timeout": a hair past it.
  double ms = due - now + 0.05;
  return ms > 0 ? ms : 0;
}

}  // namespace baton
