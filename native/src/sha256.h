// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the native heartbeat
// engine (cluster_beat.h): a heartbeat is ~34 bytes under the MAC, so keeping
// the key's inner and outer states precomputed makes one MAC three
// compressions. Checked against node:crypto in test/unit/native/.
#pragma once
#include <cstddef>
#include <cstdint>

namespace baton {

struct Sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  uint64_t total = 0;  // bytes hashed so far
  uint32_t fill = 0;   // bytes in buf
};

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const uint8_t *data, size_t len);
void sha256_final(Sha256 *s, uint8_t out[32]);

// A key's HMAC states after the first block (key ^ ipad, key ^ opad).
struct HmacSha256Key {
  Sha256 inner;
  Sha256 outer;
};

void hmac_sha256_key(HmacSha256Key *k, const uint8_t *key, size_t len);
void hmac_sha256(const HmacSha256Key &k, const uint8_t *data, size_t len, uint8_t out[32]);

}  // namespace baton
