// SRTP/SRTCP (RFC 3711, AES-192/256 per RFC 6188, AES-GCM per RFC 7714) in place on a packet buffer,
// with the OpenSSL that Node itself carries. Session keys come derived from TypeScript (src/srtp/keys.ts),
// so this file only has the per-packet transforms, rollover counters and replay windows.
#pragma once

// SHA1_Init/Update/Final are deprecated in OpenSSL 3, but copying a SHA_CTX is the cheapest way to reuse
// HMAC's hashed key pads per packet (EVP_MD_CTX_copy allocates).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "packet.h"

namespace rtpbridge {

enum class SrtpCipher : uint8_t { AesCm, AesGcm, Null };

struct SrtpSessionKeys {
  std::vector<uint8_t> enc, salt, auth;
};

struct SrtpParams {
  SrtpCipher cipher = SrtpCipher::AesCm;
  size_t rtpTag = 10, rtcpTag = 10;
  bool encryptRtp = true, encryptRtcp = true, authRtp = true;
  // Bytes of MKI the sender puts before the tag; skipped on receipt.
  size_t mki = 0;
  SrtpSessionKeys rtp, rtcp;
};

// Why a packet failed; the transforms return these negated lengths.
enum SrtpError : int { kSrtpMalformed = -1, kSrtpAuth = -2, kSrtpReplay = -3 };

// Room a protected packet may need beyond the plain one: a 16-byte tag and the SRTCP index word.
constexpr size_t kSrtpRoom = 32;

// How far one SRTP direction has got: the SRTCP index and each SSRC's highest RTP index (ROC << 16 |
// SEQ). A context given it back continues across a restart or a move instead of starting at ROC 0.
struct SrtpProgress {
  uint32_t srtcpIndex = 0;
  std::vector<std::pair<uint32_t, int64_t>> ssrcs;
};

// One direction of SRTP for one key. Not thread-safe: each lives on one shard.
class Srtp {
 public:
  explicit Srtp(const SrtpParams& params);
  ~Srtp();
  Srtp(const Srtp&) = delete;
  Srtp& operator=(const Srtp&) = delete;

  // In place: the new length, or a negative SrtpError. `cap` is what the buffer holds (len + kSrtpRoom).
  int protect(Kind kind, uint8_t* buf, size_t len, size_t cap);
  int unprotect(Kind kind, uint8_t* buf, size_t len);

  SrtpProgress progress() const;
  void resume(const SrtpProgress& progress);

 private:
  struct Window {
    int64_t top = -1;
    std::array<uint64_t, 2> bits{};  // bit i: index top - i was accepted
    bool fresh(int64_t index) const;
    void accept(int64_t index);
  };
  struct SsrcState {
    uint32_t ssrc = 0;
    uint32_t roc = 0;
    int32_t highestSeq = -1;
    Window rtp, rtcp;
  };
  struct Hmac {
    SHA_CTX inner, outer;
    void init(const std::vector<uint8_t>& key);
    void sign(const uint8_t* data, size_t len, const uint8_t* suffix, size_t suffixLen, uint8_t out[SHA_DIGEST_LENGTH]) const;
  };

  SsrcState* find(uint32_t ssrc);
  SsrcState& remember(uint32_t ssrc);
  static int64_t estimate(const SsrcState& s, uint16_t seq);
  static void update(SsrcState& s, int64_t index);

  bool ctr(const SrtpSessionKeys& keys, uint8_t* data, size_t len, uint32_t ssrc, uint64_t index);
  int gcm(bool encrypt, const SrtpSessionKeys& keys, const uint8_t iv[12], const uint8_t* aad, size_t aadLen, const uint8_t* aad2,
          size_t aad2Len, uint8_t* body, size_t bodyLen, uint8_t* tag);

  int protectRtp(uint8_t* buf, size_t len, size_t cap);
  int unprotectRtp(uint8_t* buf, size_t len);
  int protectRtcp(uint8_t* buf, size_t len, size_t cap);
  int unprotectRtcp(uint8_t* buf, size_t len);

  SrtpParams p_;
  EVP_CIPHER_CTX* rtpCipher_ = nullptr;
  EVP_CIPHER_CTX* rtcpCipher_ = nullptr;
  Hmac rtpMac_{}, rtcpMac_{};
  std::vector<SsrcState> ssrcs_;
  uint32_t srtcpIndex_ = 0;
};

}  // namespace rtpbridge
