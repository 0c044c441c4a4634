// The native heartbeat engine: a cluster node's heartbeats are sent and
// checked by the pollers, not by the JS control thread, so an idle cluster
// wakes no JS thread at all (a 100 Hz JS timer alone costs ~2 % of a core).
//
//   send   poller 0, every interval: a fixed-layout heartbeat (below) with the
//          content the control thread set (incarnation, record version,
//          state) and the next number of the node's shared sequence counter,
//          sealed with HMAC-SHA256 under the cluster key.
//   check  any poller, on a routine cluster frame (native/src/steer.h): MAC,
//          cluster, sender, replay (incarnation, then sequence above the last
//          one); the arrival time goes into the shared table. A heartbeat
//          that says nothing new (same incarnation, state and version as the
//          control thread acknowledged) ends here; anything else goes on to
//          the control thread as an ordinary control frame.
//   detect poller 0: a peer silent for more than the timeout is flagged in
//          the table and the control thread is called (its sweep decides).
//          Silence counts only while this node's own receive path is whole:
//          when the device lost frames on their way in (Backend::rx_lost: a
//          starved or flooded node whose queue overflowed), a heartbeat may
//          have been among them, so the peer counts as heard up to the moment
//          the loss was seen, for at most loss_grace_ms past its last real
//          heartbeat (EXCUSED counts the judgments put off this way). A peer
//          that dies takes its own traffic with it: the losses stop and the
//          usual timeout runs from there.
//
// Heartbeat body (little-endian, 28 bytes) after the seal header of
// control/wire/frame.ts (flags bit 0 = this layout), followed by the MAC:
//   0 u32 cluster  4 u16 sender  6 u16 to  8 f64 incarnation
//   16 u32 seq  20 u32 version  24 u8 state  25..27 zero
//
// Shared table (a SharedArrayBuffer the control thread owns; control/beat-table.ts):
//   i32 words 0 SEQ (next sequence number - 1; JS takes numbers with Atomics.add)
//             1 EVENTS (1: a peer timed out; the control thread clears it)
//             2 SENT 3 CONSUMED 4 DROPPED_REPLAY 5 FORWARDED 6 EXCUSED
//             7 SILENT (bit i: peer i judged silent here, until it is heard:
//               the control thread fails a peer only on this engine's word,
//               given after it read what the port held)
//   from byte 64, per peer i, 8 doubles at 64 + 64 i:
//             0 id  1 incarnation  2 last heard (CLOCK_MONOTONIC ms; or a moment
//               of own receive loss after it, within the grace: see detect)
//             3 state  4 version   (written here)
//             5 ack incarnation  6 ack state  7 ack version  (written by JS)
#pragma once
#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include "backend.h"
#include "sha256.h"

namespace baton {

constexpr int kBeatBodyLen = 28;
constexpr int kBeatSealHeader = 6;
constexpr int kBeatMacLen = 32;
constexpr int kBeatPayloadLen = kBeatSealHeader + kBeatBodyLen + kBeatMacLen;
constexpr int kBeatMaxPeers = 32;
constexpr int kBeatTableBytes = 64 + kBeatMaxPeers * 64;

enum BeatWord : int {
  kBeatSeq = 0, kBeatEvents = 1, kBeatSent = 2, kBeatConsumed = 3, kBeatDroppedReplay = 4, kBeatForwarded = 5, kBeatExcused = 6, kBeatSilent = 7,
};
enum BeatPeerField : int {
  kPeerId = 0, kPeerIncarnation = 1, kPeerLastHeard = 2, kPeerState = 3, kPeerVersion = 4,
  kPeerAckIncarnation = 5, kPeerAckState = 6, kPeerAckVersion = 7,
};

struct BeatConfig {
  std::vector<uint8_t> key;
  uint32_t cluster = 0;
  uint16_t self = 0;
  uint8_t mac[6] = {0};
  double interval_ms = 10;
  double timeout_ms = 40;
  double loss_grace_ms = 1000;  // 0: own receive losses excuse no silence
  std::vector<uint16_t> peers;
  uint8_t *table = nullptr;  // kBeatTableBytes, owned by JS (kept referenced while configured)
};

double monotonic_ms();

class HeartbeatEngine {
 public:
  enum Verdict { kForward, kConsume };

  void configure(const BeatConfig &cfg);
  void disable();
  // New content: the next heartbeat goes out at once (the caller kicks poller 0).
  void set_content(double incarnation, uint32_t version, uint8_t state);
  // A routine cluster payload (after the Ethernet header) arrived at now_ms.
  Verdict on_rx(const uint8_t *payload, uint32_t len, double now_ms);
  // Poller 0: sends a due heartbeat, flags silent peers (*notify: call the
  // control thread). Returns ms until something is next due, or -1.
  double tick(Backend *dev, int queue, double now_ms, bool *notify);
  bool enabled() const { return enabled_; }

 private:
  struct Peer {
    uint16_t id;
    double incarnation = -1;
    uint32_t top = 0;
    double last_heard = 0;
    double excused_to = 0;  // heard-or-deaf up to here (>= last_heard once excused)
    bool excusing = false;  // this silence was put off once already (counted)
    bool expired = false;
  };
  int32_t *word(int w) const { return reinterpret_cast<int32_t *>(cfg_.table) + w; }
  double *field(int peer, int f) const { return reinterpret_cast<double *>(cfg_.table + 64 + peer * 64) + f; }
  void send(Backend *dev, int queue);

  std::mutex mu_;
  bool enabled_ = false;
  BeatConfig cfg_;
  HmacSha256Key key_;
  std::vector<Peer> peers_;
  bool has_content_ = false;
  double incarnation_ = 0;
  uint32_t version_ = 0;
  uint8_t state_ = 0;
  double next_send_ = 0;
  int64_t lost_seen_ = -1;  // the device's rx_lost() at the last look
  double lost_read_at_ = -INFINITY;  // when that was
  double deaf_at_ = 0;      // when a rise of it was last seen
};

// The process's engine (one cluster per node process).
HeartbeatEngine &beat_engine();

}  // namespace baton
