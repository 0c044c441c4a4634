// baton_native: the node-addon-api entry. Functions here are the only ways JS
// reaches native code; each validates its arguments and reports errors as JS
// exceptions with a BATON_ERR_* code, never by crashing.
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <sched.h>

#include "af_packet.h"
#include "cluster_beat.h"
#include "sha256.h"
#include "dpdk.h"
#include "arena.h"
#include "futex.h"
#include "poller.h"
#include "steer.h"
#include "tap.h"
#include "vnet.h"

namespace {

using baton::Arena;
using baton::Backend;
using baton::Poller;

Napi::Value ThrowCode(Napi::Env env, const char *code, const std::string &msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Raw data pointer of a typed array, SharedArrayBuffer-backed included
// (Napi::ArrayBuffer::Data() refuses shared buffers; napi_get_typedarray_info does not).
bool TypedData(Napi::Env env, Napi::Value v, void **data, size_t *bytes, napi_typedarray_type *type) {
  if (!v.IsTypedArray()) return false;
  napi_typedarray_type t;
  size_t length = 0;
  void *d = nullptr;
  if (napi_get_typedarray_info(env, v, &t, &length, &d, nullptr, nullptr) != napi_ok || d == nullptr) return false;
  size_t elem = (t == napi_int8_array || t == napi_uint8_array || t == napi_uint8_clamped_array) ? 1
                : (t == napi_int16_array || t == napi_uint16_array)                               ? 2
                : (t == napi_int32_array || t == napi_uint32_array || t == napi_float32_array)   ? 4
                                                                                                  : 8;
  *data = d;
  *bytes = length * elem;
  if (type != nullptr) *type = t;
  return true;
}

// ---------------------------------------------------------------- futexes

volatile uint32_t *WordAt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *data;
  size_t bytes;
  napi_typedarray_type t;
  if (info.Length() < 2 || !TypedData(env, info[0], &data, &bytes, &t) || !info[1].IsNumber()) {
    ThrowCode(env, "BATON_ERR_NATIVE", "expected (Int32Array|Uint32Array, index, ...)");
    return nullptr;
  }
  if (t != napi_int32_array && t != napi_uint32_array) {
    ThrowCode(env, "BATON_ERR_NATIVE", "futex words must be in an Int32Array or Uint32Array");
    return nullptr;
  }
  int64_t index = info[1].As<Napi::Number>().Int64Value();
  if (index < 0 || static_cast<size_t>(index) >= bytes / 4) {
    ThrowCode(env, "BATON_ERR_NATIVE", "futex word index out of range");
    return nullptr;
  }
  return static_cast<volatile uint32_t *>(data) + index;
}

// futexWait(words, index, expected, timeoutMs) -> 'ok' | 'timed-out' | 'not-equal'
// Blocks the calling JS thread: only a worker with nothing to do calls it.
Napi::Value FutexWait(const Napi::CallbackInfo &info) {
  volatile uint32_t *w = WordAt(info);
  if (w == nullptr) return info.Env().Undefined();
  uint32_t expected = info.Length() > 2 ? static_cast<uint32_t>(info[2].As<Napi::Number>().Int64Value()) : 0;
  double ms = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : -1;
  int64_t ns = ms < 0 ? -1 : static_cast<int64_t>(ms * 1e6);
  int r = baton::futex_wait(w, expected, ns);
  static const char *names[] = {"ok", "timed-out", "not-equal"};
  return Napi::String::New(info.Env(), names[r]);
}

// futexWake(words, index, count) -> number woken
Napi::Value FutexWake(const Napi::CallbackInfo &info) {
  volatile uint32_t *w = WordAt(info);
  if (w == nullptr) return info.Env().Undefined();
  int count = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 1;
  return Napi::Number::New(info.Env(), baton::futex_wake(w, count));
}

// yieldCpu(): sched_yield(); a worker spinning while idle lets a thread that
// shares its core (its poller) run.
Napi::Value YieldCpu(const Napi::CallbackInfo &info) {
  sched_yield();
  return info.Env().Undefined();
}

// setThreadName(name): names the calling thread (15 characters at most), so
// per-thread CPU in /proc/PID/task/*/stat says which thread is which.
Napi::Value SetThreadName(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(info.Env(), "setThreadName(name)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value().substr(0, 15);
  pthread_setname_np(pthread_self(), name.c_str());
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- ports & pollers
// Process-wide registries: the addon is loaded by the control thread and by
// every worker; all of them see these. Ports and pollers are created and
// stopped by the control thread only; workers only kick pollers.

std::mutex g_mu;
std::map<int, std::unique_ptr<Backend>> g_ports;
int g_next_port = 1;

struct PollerEntry {
  std::unique_ptr<Poller> poller;
  Napi::ThreadSafeFunction tsfn;
};
constexpr int kMaxPollers = BATON_MAX_POLLERS;
PollerEntry g_entries[kMaxPollers];
std::atomic<Poller *> g_kick[kMaxPollers];

// openPort(kind, target, { queues, promiscuous }) -> port id
Napi::Value OpenPort(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "openPort(kind, target, options)");
  }
  std::string kind = info[0].As<Napi::String>();
  std::string target = info[1].As<Napi::String>();
  int queues = 1;
  bool promiscuous = false;
  std::string pool = "baton_mbufs";
  bool rx_intr = false;
  bool offload = false;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    if (o.Get("queues").IsNumber()) queues = o.Get("queues").As<Napi::Number>().Int32Value();
    if (o.Get("promiscuous").IsBoolean()) promiscuous = o.Get("promiscuous").As<Napi::Boolean>();
    if (o.Get("mbufPool").IsString()) pool = o.Get("mbufPool").As<Napi::String>().Utf8Value();
    if (o.Get("rxInterrupts").IsBoolean()) rx_intr = o.Get("rxInterrupts").As<Napi::Boolean>();
    if (o.Get("offload").IsBoolean()) offload = o.Get("offload").As<Napi::Boolean>();
  }
  if (offload && kind != "tap") return ThrowCode(env, "BATON_ERR_CONFIG", "offload: only the tap back-end offers it");
  if (queues < 1 || queues > 16) return ThrowCode(env, "BATON_ERR_CONFIG", "queues must be 1..16");
  std::string err;
  std::unique_ptr<Backend> dev;
  if (kind == "tap") {
    dev = baton::TapBackend::open(target, queues, offload, &err);
  } else if (kind == "af_packet") {
    if (queues != 1) return ThrowCode(env, "BATON_ERR_CONFIG", "af_packet supports one queue");
    dev = baton::AfPacketBackend::open(target, promiscuous, &err);
  } else if (kind == "dpdk") {
    // target: the ethdev port id, already configured and started through ffi-rs (native/dpdk.ts).
    dev = baton::dpdk_open(std::atoi(target.c_str()), queues, pool, rx_intr, &err);
  } else {
    return ThrowCode(env, "BATON_ERR_CONFIG", "unknown port kind '" + kind + "'");
  }
  if (!dev) return ThrowCode(env, "BATON_ERR_PORT", err);
  std::lock_guard<std::mutex> lock(g_mu);
  int id = g_next_port++;
  g_ports[id] = std::move(dev);
  return Napi::Number::New(env, id);
}

// copyBytes(dst: Uint8Array, dstOff, src: Uint8Array, srcOff, len): memmove. V8 copies into or out of a
// SharedArrayBuffer byte-atomically (about 1.6 GB/s here, against 20+ for memcpy); packet payloads
// between the arena and a connection's buffers come through here instead (dataplane/net/copy.ts).
Napi::Value CopyBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *dst;
  void *src;
  size_t dst_bytes, src_bytes;
  if (info.Length() < 5 || !TypedData(env, info[0], &dst, &dst_bytes, nullptr) || !TypedData(env, info[2], &src, &src_bytes, nullptr)) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "copyBytes(dst, dstOff, src, srcOff, len)");
  }
  double d_off = info[1].As<Napi::Number>().DoubleValue();
  double s_off = info[3].As<Napi::Number>().DoubleValue();
  double len = info[4].As<Napi::Number>().DoubleValue();
  if (!(d_off >= 0 && s_off >= 0 && len >= 0 && d_off + len <= static_cast<double>(dst_bytes) && s_off + len <= static_cast<double>(src_bytes))) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "copyBytes: range outside the arrays");
  }
  memmove(static_cast<uint8_t *>(dst) + static_cast<size_t>(d_off), static_cast<const uint8_t *>(src) + static_cast<size_t>(s_off), static_cast<size_t>(len));
  return env.Undefined();
}

// portOffloads(id) -> kOffload* bits of an open port (1 checksum, 2 TCP segmentation).
Napi::Value PortOffloads(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(env, "BATON_ERR_NATIVE", "portOffloads(id)");
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_ports.find(info[0].As<Napi::Number>().Int32Value());
  if (it == g_ports.end()) return ThrowCode(env, "BATON_ERR_NATIVE", "portOffloads: no such port");
  return Napi::Number::New(env, it->second->offloads());
}

// portSnoopTrim(id, ips: Uint32Array, shift, mask) -> whether the device cuts them (Backend::snoop_trim).
Napi::Value PortSnoopTrim(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber()) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "portSnoopTrim(id, ips: Uint32Array, shift, mask)");
  }
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint32_array) return ThrowCode(env, "BATON_ERR_NATIVE", "portSnoopTrim: ips must be a Uint32Array");
  Napi::Uint32Array ips = ta.As<Napi::Uint32Array>();
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_ports.find(info[0].As<Napi::Number>().Int32Value());
  if (it == g_ports.end()) return ThrowCode(env, "BATON_ERR_NATIVE", "portSnoopTrim: no such port");
  bool ok = it->second->snoop_trim(ips.Data(), static_cast<int>(ips.ElementLength()), info[2].As<Napi::Number>().Uint32Value(),
                                   info[3].As<Napi::Number>().Uint32Value());
  return Napi::Boolean::New(env, ok);
}

// vnetRxFlags(header: Uint8Array(10)) -> DESC_FLAG_* bits, or -1 to drop (tests of vnet.h).
Napi::Value VnetRxFlags(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::Uint8Array>().ByteLength() < baton::kVnetHdrLen) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "vnetRxFlags(header: Uint8Array(10))");
  }
  uint32_t flags = 0;
  if (!baton::vnet_rx_flags(info[0].As<Napi::Uint8Array>().Data(), &flags)) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, flags);
}

// vnetTxHeader(frame: Uint8Array, flags, gsoSize) -> the 10-byte header the TAP gets, or null to drop (tests of vnet.h).
Napi::Value VnetTxHeader(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "vnetTxHeader(frame, flags, gsoSize)");
  }
  auto f = info[0].As<Napi::Uint8Array>();
  auto out = Napi::Uint8Array::New(env, baton::kVnetHdrLen);
  if (!baton::vnet_tx_header(out.Data(), f.Data(), static_cast<uint32_t>(f.ByteLength()), info[1].As<Napi::Number>().Uint32Value(),
                             info[2].As<Napi::Number>().Uint32Value())) {
    return env.Null();
  }
  return out;
}

Napi::Value ClosePort(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(env, "BATON_ERR_NATIVE", "closePort(id)");
  int id = info[0].As<Napi::Number>().Int32Value();
  // Pollers on this port must be stopped first; native/port.ts does so.
  std::lock_guard<std::mutex> lock(g_mu);
  g_ports.erase(id);
  return env.Undefined();
}

uint8_t HexNibble(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
  return 0xff;
}

bool ParseMac(const std::string &s, uint8_t out[6]) {
  if (s.size() != 17) return false;
  for (int i = 0; i < 6; i++) {
    uint8_t hi = HexNibble(s[i * 3]), lo = HexNibble(s[i * 3 + 1]);
    if (hi > 15 || lo > 15 || (i < 5 && s[i * 3 + 2] != ':')) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// startPoller(arena: Uint8Array, portId, { poller, queue, port, mac, promiscuous, seed, spin, spinNs }, onControl)
// The arena typed array must stay referenced by the caller while the poller runs.
Napi::Value StartPoller(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *data;
  size_t bytes;
  if (info.Length() < 4 || !TypedData(env, info[0], &data, &bytes, nullptr) || !info[1].IsNumber() || !info[2].IsObject() ||
      !info[3].IsFunction()) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "startPoller(arena, portId, options, onControl)");
  }
  Arena arena;
  std::string err;
  if (!arena.attach(static_cast<uint8_t *>(data), bytes, &err)) return ThrowCode(env, "BATON_ERR_SHM_LAYOUT", err);
  int port_id = info[1].As<Napi::Number>().Int32Value();
  Napi::Object o = info[2].As<Napi::Object>();
  baton::PollerConfig cfg;
  cfg.index = o.Get("poller").IsNumber() ? o.Get("poller").As<Napi::Number>().Uint32Value() : 0;
  cfg.queue = o.Get("queue").IsNumber() ? o.Get("queue").As<Napi::Number>().Int32Value() : 0;
  cfg.port = o.Get("port").IsNumber() ? o.Get("port").As<Napi::Number>().Uint32Value() : 0;
  cfg.promiscuous = o.Get("promiscuous").IsBoolean() && o.Get("promiscuous").As<Napi::Boolean>().Value();
  cfg.seed = o.Get("seed").IsNumber() ? o.Get("seed").As<Napi::Number>().Uint32Value() : baton::kFlowHashSeedDefault;
  if (o.Get("spin").IsNumber()) cfg.spin = o.Get("spin").As<Napi::Number>().Uint32Value();
  if (o.Get("spinNs").IsNumber()) {
    // 0: park as soon as a pass finds nothing (no iteration spin either).
    cfg.spin_ns = static_cast<uint64_t>(o.Get("spinNs").As<Napi::Number>().Int64Value());
    if (cfg.spin_ns == 0) cfg.spin = 0;
    if (cfg.lone_spin_ns > cfg.spin_ns) cfg.lone_spin_ns = cfg.spin_ns;
  }
  std::string mac = o.Get("mac").IsString() ? o.Get("mac").As<Napi::String>().Utf8Value() : "";
  if (!ParseMac(mac, cfg.mac)) return ThrowCode(env, "BATON_ERR_CONFIG", "startPoller: bad mac '" + mac + "'");
  if (cfg.index >= static_cast<uint32_t>(kMaxPollers) || cfg.index >= arena.pollers()) {
    return ThrowCode(env, "BATON_ERR_CONFIG", "startPoller: poller index not in the arena");
  }
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_ports.find(port_id);
  if (it == g_ports.end()) return ThrowCode(env, "BATON_ERR_NATIVE", "startPoller: no such port");
  if (cfg.queue < 0 || cfg.queue >= it->second->queues()) return ThrowCode(env, "BATON_ERR_CONFIG", "startPoller: no such queue");
  PollerEntry &entry = g_entries[cfg.index];
  if (entry.poller) return ThrowCode(env, "BATON_ERR_NATIVE", "startPoller: poller index already running");
  entry.tsfn = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "baton-control-wake", 0, 1);
  entry.tsfn.Unref(env);
  Napi::ThreadSafeFunction tsfn = entry.tsfn;
  entry.poller = std::make_unique<Poller>(arena, it->second.get(), cfg, [tsfn]() mutable { tsfn.NonBlockingCall(); });
  if (!entry.poller->start(&err)) {
    entry.poller.reset();
    entry.tsfn.Release();
    return ThrowCode(env, "BATON_ERR_NATIVE", err);
  }
  g_kick[cfg.index].store(entry.poller.get(), std::memory_order_release);
  return Napi::Number::New(env, cfg.index);
}

Napi::Value StopPoller(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(env, "BATON_ERR_NATIVE", "stopPoller(index)");
  uint32_t idx = info[0].As<Napi::Number>().Uint32Value();
  if (idx >= static_cast<uint32_t>(kMaxPollers)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g_mu);
  PollerEntry &entry = g_entries[idx];
  if (!entry.poller) return env.Undefined();
  g_kick[idx].store(nullptr, std::memory_order_release);
  entry.poller->stop();
  entry.poller.reset();
  entry.tsfn.Release();
  return env.Undefined();
}

// kickPoller(index): an endpoint queued frames to send while the poller was parked.
Napi::Value KickPoller(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return info.Env().Undefined();
  uint32_t idx = info[0].As<Napi::Number>().Uint32Value();
  if (idx < static_cast<uint32_t>(kMaxPollers)) {
    Poller *p = g_kick[idx].load(std::memory_order_acquire);
    if (p != nullptr) p->kick();
  }
  return info.Env().Undefined();
}

// setPollerShadowSpin(index, spinNs): Poller::set_shadow_spin.
Napi::Value SetPollerShadowSpin(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowCode(env, "BATON_ERR_NATIVE", "setPollerShadowSpin(index, spinNs)");
  uint32_t idx = info[0].As<Napi::Number>().Uint32Value();
  int64_t ns = info[1].As<Napi::Number>().Int64Value();
  if (ns < 0 || ns > 10'000'000) return ThrowCode(env, "BATON_ERR_NATIVE", "setPollerShadowSpin: spinNs out of range (0-10 ms)");
  std::lock_guard<std::mutex> lock(g_mu);
  if (idx >= static_cast<uint32_t>(kMaxPollers) || !g_entries[idx].poller) return ThrowCode(env, "BATON_ERR_NATIVE", "setPollerShadowSpin: no such poller");
  g_entries[idx].poller->set_shadow_spin(static_cast<uint64_t>(ns));
  return env.Undefined();
}

Napi::Value FlowHash(const Napi::CallbackInfo &info) {
  uint32_t a[6] = {0, 0, 0, 0, 0, baton::kFlowHashSeedDefault};
  for (size_t i = 0; i < 6 && i < info.Length(); i++) {
    if (info[i].IsNumber()) a[i] = info[i].As<Napi::Number>().Uint32Value();
  }
  return Napi::Number::New(info.Env(), baton::flow_hash(a[0], a[1], a[2], a[3], a[4], a[5]));
}

// steerClassify(frame: Uint8Array, seed) -> [class, hash]: the poller's steering decision (tests).
Napi::Value SteerClassify(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "steerClassify(frame: Uint8Array, seed)").ThrowAsJavaScriptException();
    return env.Null();
  }
  auto a = info[0].As<Napi::Uint8Array>();
  uint32_t seed = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : baton::kFlowHashSeedDefault;
  uint32_t hash = 0;
  int cls = baton::steer_classify(a.Data(), static_cast<uint32_t>(a.ByteLength()), seed, &hash);
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, cls));
  out.Set(1u, Napi::Number::New(env, hash));
  return out;
}

// ---------------------------------------------------------------- heartbeat engine (cluster_beat.h)

// beatConfigure(table: Uint8Array over a SharedArrayBuffer of BEAT_TABLE_BYTES,
//   { key: Uint8Array, cluster, self, mac, intervalMs, timeoutMs, peers: number[] })
// The caller keeps `table` referenced until beatStop().
Napi::Value BeatConfigure(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *table;
  size_t bytes;
  if (info.Length() < 2 || !TypedData(env, info[0], &table, &bytes, nullptr) || bytes < static_cast<size_t>(baton::kBeatTableBytes) ||
      !info[1].IsObject()) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "beatConfigure(table, options)");
  }
  Napi::Object o = info[1].As<Napi::Object>();
  baton::BeatConfig cfg;
  void *key;
  size_t key_len;
  if (!TypedData(env, o.Get("key"), &key, &key_len, nullptr) || key_len == 0) return ThrowCode(env, "BATON_ERR_NATIVE", "beatConfigure: key");
  cfg.key.assign(static_cast<uint8_t *>(key), static_cast<uint8_t *>(key) + key_len);
  cfg.cluster = o.Get("cluster").As<Napi::Number>().Uint32Value();
  cfg.self = static_cast<uint16_t>(o.Get("self").As<Napi::Number>().Uint32Value());
  std::string mac = o.Get("mac").IsString() ? o.Get("mac").As<Napi::String>().Utf8Value() : "";
  if (!ParseMac(mac, cfg.mac)) return ThrowCode(env, "BATON_ERR_CONFIG", "beatConfigure: bad mac '" + mac + "'");
  cfg.interval_ms = o.Get("intervalMs").As<Napi::Number>().DoubleValue();
  cfg.timeout_ms = o.Get("timeoutMs").As<Napi::Number>().DoubleValue();
  if (!(cfg.interval_ms >= 1) || !(cfg.timeout_ms >= cfg.interval_ms)) return ThrowCode(env, "BATON_ERR_CONFIG", "beatConfigure: interval/timeout");
  if (o.Has("lossGraceMs")) cfg.loss_grace_ms = o.Get("lossGraceMs").As<Napi::Number>().DoubleValue();
  if (!(cfg.loss_grace_ms >= 0)) return ThrowCode(env, "BATON_ERR_CONFIG", "beatConfigure: lossGraceMs");
  Napi::Value pv = o.Get("peers");
  if (!pv.IsArray()) return ThrowCode(env, "BATON_ERR_NATIVE", "beatConfigure: peers");
  Napi::Array peers = pv.As<Napi::Array>();
  if (peers.Length() > static_cast<uint32_t>(baton::kBeatMaxPeers)) return ThrowCode(env, "BATON_ERR_CONFIG", "beatConfigure: too many peers");
  for (uint32_t i = 0; i < peers.Length(); i++) cfg.peers.push_back(static_cast<uint16_t>(peers.Get(i).As<Napi::Number>().Uint32Value()));
  cfg.table = static_cast<uint8_t *>(table);
  baton::beat_engine().configure(cfg);
  return env.Undefined();
}

// beatSet(incarnation, version, state): the heartbeat's content; sent at once (kick poller 0 after).
Napi::Value BeatSet(const Napi::CallbackInfo &info) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return ThrowCode(info.Env(), "BATON_ERR_NATIVE", "beatSet(incarnation, version, state)");
  }
  baton::beat_engine().set_content(info[0].As<Napi::Number>().DoubleValue(), info[1].As<Napi::Number>().Uint32Value(),
                                   static_cast<uint8_t>(info[2].As<Napi::Number>().Uint32Value()));
  return info.Env().Undefined();
}

Napi::Value BeatStop(const Napi::CallbackInfo &info) {
  baton::beat_engine().disable();
  return info.Env().Undefined();
}

// monotonicMs(): CLOCK_MONOTONIC in ms, the clock of the heartbeat table and of control-frame stamps.
Napi::Value MonotonicMs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), baton::monotonic_ms()); }

// hmacSha256(key, data) -> Uint8Array(32): the engine's MAC, for cross-checking against node:crypto.
Napi::Value HmacSha256(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *key, *data;
  size_t key_len, data_len;
  bool empty = info.Length() >= 2 && info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().ElementLength() == 0;
  if (empty) {
    data = nullptr;
    data_len = 0;
  }
  if (info.Length() < 2 || !TypedData(env, info[0], &key, &key_len, nullptr) || (!empty && !TypedData(env, info[1], &data, &data_len, nullptr))) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "hmacSha256(key, data)");
  }
  baton::HmacSha256Key k;
  baton::hmac_sha256_key(&k, static_cast<uint8_t *>(key), key_len);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, 32);
  baton::hmac_sha256(k, static_cast<uint8_t *>(data), data_len, out.Data());
  return out;
}

// dpdkInfo() -> null when built without libdpdk, else { name: value } layout facts.
Napi::Value DpdkInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!baton::dpdk_available()) return env.Null();
  int n = 0;
  const baton::DpdkLayout *t = baton::dpdk_layout(&n);
  Napi::Object o = Napi::Object::New(env);
  for (int i = 0; i < n; i++) o.Set(t[i].name, Napi::Number::New(env, static_cast<double>(t[i].value)));
  return o;
}

// ---------------------------------------------------------------- io.native_ring benchmark
// A native thread as producer of one ring (the poller's side), writing the
// same sequence-checked descriptors as bench/ring-worker.ts, so a JS worker
// consumer measures native→JS throughput.
std::thread g_bench_thread;

// benchProduce(ringBytes: Uint8Array at the ring header, total, burst)
Napi::Value BenchProduce(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  void *data;
  size_t bytes;
  if (info.Length() < 3 || !TypedData(env, info[0], &data, &bytes, nullptr) || bytes < BATON_RING_HEADER_BYTES) {
    return ThrowCode(env, "BATON_ERR_NATIVE", "benchProduce(ring, total, burst)");
  }
  if (g_bench_thread.joinable()) return ThrowCode(env, "BATON_ERR_NATIVE", "benchProduce: already running");
  baton::RingView r;
  r.hdr = static_cast<uint32_t *>(data);
  r.desc = r.hdr + r.hdr[BATON_RING_HDR_DESC_OFFSET] / 4;
  r.capacity = r.hdr[BATON_RING_HDR_CAPACITY];
  r.mask = r.hdr[BATON_RING_HDR_MASK];
  r.shift = r.hdr[BATON_RING_HDR_DESC_SHIFT];
  r.init_producer();
  uint32_t total = info[1].As<Napi::Number>().Uint32Value();
  uint32_t burst = info[2].As<Napi::Number>().Uint32Value();
  g_bench_thread = std::thread([r, total, burst]() mutable {
    const uint32_t meta = 1514u | (BATON_DESC_FLAG_HASH_VALID << BATON_DESC_FLAGS_SHIFT);
    uint32_t seq = 0;
    while (seq < total) {
      uint32_t n = r.free_slots();
      if (n == 0) {
        sched_yield();
        continue;
      }
      if (n > burst) n = burst;
      if (n > total - seq) n = total - seq;
      for (uint32_t i = 0; i < n; i++) {
        uint32_t *d = r.next_desc();
        d[0] = seq;
        d[1] = meta;
        d[2] = seq ^ 0x9e3779b9u;
        d[3] = BATON_SLOT_HEADROOM;
        r.stage();
        seq++;
      }
      r.commit();
    }
  });
  return env.Undefined();
}

Napi::Value BenchJoin(const Napi::CallbackInfo &info) {
  if (g_bench_thread.joinable()) g_bench_thread.join();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("benchProduce", Napi::Function::New(env, BenchProduce, "benchProduce"));
  exports.Set("benchJoin", Napi::Function::New(env, BenchJoin, "benchJoin"));
  exports.Set("dpdkInfo", Napi::Function::New(env, DpdkInfo, "dpdkInfo"));
  exports.Set("futexWait", Napi::Function::New(env, FutexWait, "futexWait"));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
  exports.Set("openPort", Napi::Function::New(env, OpenPort, "openPort"));
  exports.Set("closePort", Napi::Function::New(env, ClosePort, "closePort"));
  exports.Set("startPoller", Napi::Function::New(env, StartPoller, "startPoller"));
  exports.Set("stopPoller", Napi::Function::New(env, StopPoller, "stopPoller"));
  exports.Set("kickPoller", Napi::Function::New(env, KickPoller, "kickPoller"));
  exports.Set("setPollerShadowSpin", Napi::Function::New(env, SetPollerShadowSpin, "setPollerShadowSpin"));
  exports.Set("yieldCpu", Napi::Function::New(env, YieldCpu, "yieldCpu"));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadName, "setThreadName"));
  exports.Set("flowHash", Napi::Function::New(env, FlowHash, "flowHash"));
  exports.Set("steerClassify", Napi::Function::New(env, SteerClassify, "steerClassify"));
  exports.Set("portOffloads", Napi::Function::New(env, PortOffloads, "portOffloads"));
  exports.Set("portSnoopTrim", Napi::Function::New(env, PortSnoopTrim, "portSnoopTrim"));
  exports.Set("copyBytes", Napi::Function::New(env, CopyBytes, "copyBytes"));
  exports.Set("vnetRxFlags", Napi::Function::New(env, VnetRxFlags, "vnetRxFlags"));
  exports.Set("vnetTxHeader", Napi::Function::New(env, VnetTxHeader, "vnetTxHeader"));
  exports.Set("beatConfigure", Napi::Function::New(env, BeatConfigure, "beatConfigure"));
  exports.Set("beatSet", Napi::Function::New(env, BeatSet, "beatSet"));
  exports.Set("beatStop", Napi::Function::New(env, BeatStop, "beatStop"));
  exports.Set("monotonicMs", Napi::Function::New(env, MonotonicMs, "monotonicMs"));
  exports.Set("hmacSha256", Napi::Function::New(env, HmacSha256, "hmacSha256"));
  return exports;
}

}  // namespace

NODE_API_MODULE(baton_native, Init)
