// SRTP transforms in place. Semantics mirror src/srtp/context.ts (the TypeScript workers' version),
// and the test suite runs the same SDES calls and the rtpengine interop against both.
#include "srtp.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace rtpbridge {

namespace {

constexpr size_t kGcmTag = 16;
constexpr uint32_t kSrtcpEncrypted = 0x80000000u;
// A participant may switch SSRC (transfer, re-INVITE); remember this many before forgetting the oldest.
constexpr size_t kMaxSsrcs = 16;
constexpr int64_t kWindow = 128;

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

const EVP_CIPHER* cipherFor(SrtpCipher cipher, size_t keyLength) {
  if (cipher == SrtpCipher::AesGcm) return keyLength == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
  return keyLength == 32 ? EVP_aes_256_ctr() : keyLength == 24 ? EVP_aes_192_ctr() : EVP_aes_128_ctr();
}

EVP_CIPHER_CTX* newCipher(SrtpCipher cipher, const std::vector<uint8_t>& key) {
  if (cipher == SrtpCipher::Null) return nullptr;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_CipherInit_ex(ctx, cipherFor(cipher, key.size()), nullptr, key.data(), nullptr, 1) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("OpenSSL refused the SRTP session key");
  }
  return ctx;
}

}  // namespace

bool Srtp::Window::fresh(int64_t index) const {
  if (index > top) return true;
  int64_t behind = top - index;
  if (behind >= kWindow) return false;
  return !((bits[behind / 64] >> (behind % 64)) & 1);
}

void Srtp::Window::accept(int64_t index) {
  if (index > top) {
    int64_t shift = top < 0 ? kWindow : index - top;
    if (shift >= kWindow) {
      bits = {0, 0};
    } else if (shift >= 64) {
      bits[1] = bits[0] << (shift - 64);
      bits[0] = 0;
    } else {
      bits[1] = (bits[1] << shift) | (bits[0] >> (64 - shift));
      bits[0] <<= shift;
    }
    top = index;
    bits[0] |= 1;
    return;
  }
  int64_t behind = top - index;
  if (behind < kWindow) bits[behind / 64] |= uint64_t(1) << (behind % 64);
}

void Srtp::Hmac::init(const std::vector<uint8_t>& key) {
  uint8_t ipad[64], opad[64];
  for (size_t i = 0; i < 64; i++) {
    uint8_t k = i < key.size() ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  SHA1_Init(&inner);
  SHA1_Update(&inner, ipad, 64);
  SHA1_Init(&outer);
  SHA1_Update(&outer, opad, 64);
}

// The padded key blocks are hashed once; each packet copies those states (RFC 2104).
void Srtp::Hmac::sign(const uint8_t* data, size_t len, const uint8_t* suffix, size_t suffixLen, uint8_t out[SHA_DIGEST_LENGTH]) const {
  SHA_CTX c = inner;
  SHA1_Update(&c, data, len);
  if (suffixLen) SHA1_Update(&c, suffix, suffixLen);
  uint8_t innerDigest[SHA_DIGEST_LENGTH];
  SHA1_Final(innerDigest, &c);
  c = outer;
  SHA1_Update(&c, innerDigest, sizeof innerDigest);
  SHA1_Final(out, &c);
}

Srtp::Srtp(const SrtpParams& params) : p_(params) {
  rtpCipher_ = newCipher(p_.cipher, p_.rtp.enc);
  try {
    rtcpCipher_ = newCipher(p_.cipher, p_.rtcp.enc);
  } catch (...) {
    EVP_CIPHER_CTX_free(rtpCipher_);
    throw;
  }
  if (p_.cipher != SrtpCipher::AesGcm) {
    rtpMac_.init(p_.rtp.auth);
    rtcpMac_.init(p_.rtcp.auth);
  }
  ssrcs_.reserve(4);
}

Srtp::~Srtp() {
  EVP_CIPHER_CTX_free(rtpCipher_);
  EVP_CIPHER_CTX_free(rtcpCipher_);
}

int Srtp::protect(Kind kind, uint8_t* buf, size_t len, size_t cap) {
  return kind == Kind::RTP ? protectRtp(buf, len, cap) : protectRtcp(buf, len, cap);
}

int Srtp::unprotect(Kind kind, uint8_t* buf, size_t len) { return kind == Kind::RTP ? unprotectRtp(buf, len) : unprotectRtcp(buf, len); }

SrtpProgress Srtp::progress() const {
  SrtpProgress out;
  out.srtcpIndex = srtcpIndex_;
  for (const auto& s : ssrcs_)
    if (s.highestSeq >= 0) out.ssrcs.emplace_back(s.ssrc, int64_t(s.roc) * 65536 + s.highestSeq);
  return out;
}

void Srtp::resume(const SrtpProgress& progress) {
  srtcpIndex_ = progress.srtcpIndex;
  for (const auto& [ssrc, index] : progress.ssrcs) {
    SsrcState* s = find(ssrc);
    update(s ? *s : remember(ssrc), index);
  }
}

Srtp::SsrcState* Srtp::find(uint32_t ssrc) {
  for (auto& s : ssrcs_)
    if (s.ssrc == ssrc) return &s;
  return nullptr;
}

Srtp::SsrcState& Srtp::remember(uint32_t ssrc) {
  if (ssrcs_.size() >= kMaxSsrcs) ssrcs_.erase(ssrcs_.begin());
  ssrcs_.push_back(SsrcState{});
  ssrcs_.back().ssrc = ssrc;
  return ssrcs_.back();
}

// RFC 3711 section 3.3.1 / appendix A: the index a sequence number most likely has; -1 before ROC 0.
int64_t Srtp::estimate(const SsrcState& s, uint16_t seq) {
  if (s.highestSeq < 0) return int64_t(s.roc) * 65536 + seq;
  int64_t v = s.roc;
  if (s.highestSeq < 32768) {
    if (int32_t(seq) - s.highestSeq > 32768) v--;
  } else if (s.highestSeq - 32768 > int32_t(seq)) {
    v++;
  }
  return v < 0 ? -1 : v * 65536 + seq;
}

void Srtp::update(SsrcState& s, int64_t index) {
  uint32_t v = uint32_t(index >> 16);
  int32_t seq = int32_t(index & 0xffff);
  if (s.highestSeq < 0 || v > s.roc || (v == s.roc && seq > s.highestSeq)) {
    s.roc = v;
    s.highestSeq = seq;
  }
}

// AES-CM (RFC 3711 section 4.1.1): IV = salt XOR (SSRC << 64) XOR (index << 16); OpenSSL's CTR mode
// counts the low bits the same way for the < 2^16 blocks of a packet.
bool Srtp::ctr(const SrtpSessionKeys& keys, uint8_t* data, size_t len, uint32_t ssrc, uint64_t index) {
  EVP_CIPHER_CTX* ctx = &keys == &p_.rtp ? rtpCipher_ : rtcpCipher_;
  uint8_t iv[16] = {0};
  std::memcpy(iv, keys.salt.data(), std::min<size_t>(keys.salt.size(), 14));
  uint8_t word[4];
  put32(word, ssrc);
  for (int i = 0; i < 4; i++) iv[4 + i] ^= word[i];
  put32(word, uint32_t(index >> 16));
  for (int i = 0; i < 4; i++) iv[8 + i] ^= word[i];
  iv[12] ^= uint8_t(index >> 8);
  iv[13] ^= uint8_t(index);
  int outLen = 0;
  return EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv, 1) == 1 && EVP_CipherUpdate(ctx, data, &outLen, data, int(len)) == 1;
}

// AES-GCM (RFC 7714): authenticates aad || aad2, encrypts or decrypts body in place; 0 or -1.
int Srtp::gcm(bool encrypt, const SrtpSessionKeys& keys, const uint8_t iv12[12], const uint8_t* aad, size_t aadLen, const uint8_t* aad2,
              size_t aad2Len, uint8_t* body, size_t bodyLen, uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = &keys == &p_.rtp ? rtpCipher_ : rtcpCipher_;
  uint8_t iv[12];
  for (int i = 0; i < 12; i++) iv[i] = iv12[i] ^ keys.salt[i];
  int n = 0;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv, encrypt ? 1 : 0) != 1) return -1;
  if (EVP_CipherUpdate(ctx, nullptr, &n, aad, int(aadLen)) != 1) return -1;
  if (aad2Len && EVP_CipherUpdate(ctx, nullptr, &n, aad2, int(aad2Len)) != 1) return -1;
  if (bodyLen && EVP_CipherUpdate(ctx, body, &n, body, int(bodyLen)) != 1) return -1;
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, int(kGcmTag), tag) != 1) return -1;
  uint8_t none[16];
  if (EVP_CipherFinal_ex(ctx, none, &n) != 1) return -1;
  if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kGcmTag), tag) != 1) return -1;
  return 0;
}

int Srtp::protectRtp(uint8_t* buf, size_t len, size_t cap) {
  long hl = rtpHeaderLength(buf, len);
  if (hl < 0 || cap < len + kGcmTag) return kSrtpMalformed;
  uint32_t ssrc = be32(buf + 8);
  SsrcState* found = find(ssrc);
  SsrcState& state = found ? *found : remember(ssrc);
  uint16_t seq = be16(buf + 2);
  int64_t index = estimate(state, seq);
  if (index < 0) index = seq;
  update(state, index);
  uint32_t roc = uint32_t(index >> 16);

  if (p_.cipher == SrtpCipher::AesGcm) {
    uint8_t iv[12] = {0};
    put32(iv + 2, ssrc);
    put32(iv + 6, roc);
    iv[10] = uint8_t(seq >> 8);
    iv[11] = uint8_t(seq);
    size_t aadEnd = p_.encryptRtp ? size_t(hl) : len;
    if (gcm(true, p_.rtp, iv, buf, aadEnd, nullptr, 0, buf + aadEnd, len - aadEnd, buf + len)) return kSrtpMalformed;
    return int(len + kGcmTag);
  }
  if (p_.encryptRtp && p_.cipher == SrtpCipher::AesCm && !ctr(p_.rtp, buf + hl, len - size_t(hl), ssrc, uint64_t(index))) return kSrtpMalformed;
  size_t tagLen = p_.authRtp ? p_.rtpTag : 0;
  if (tagLen) {
    uint8_t rocBytes[4], digest[SHA_DIGEST_LENGTH];
    put32(rocBytes, roc);
    rtpMac_.sign(buf, len, rocBytes, 4, digest);
    std::memcpy(buf + len, digest, tagLen);
  }
  return int(len + tagLen);
}

int Srtp::unprotectRtp(uint8_t* buf, size_t len) {
  bool aead = p_.cipher == SrtpCipher::AesGcm;
  size_t tagLen = aead ? kGcmTag : p_.authRtp ? p_.rtpTag : 0;
  long hl = rtpHeaderLength(buf, len);
  if (hl < 0 || len < size_t(hl) + tagLen + p_.mki) return kSrtpMalformed;
  uint32_t ssrc = be32(buf + 8);
  // An unknown SSRC gets state only once a packet of it authenticates: forged SSRCs cannot evict real ones.
  SsrcState* state = find(ssrc);
  uint16_t seq = be16(buf + 2);
  int64_t index = state ? estimate(*state, seq) : seq;
  if (index < 0 || (state && !state->rtp.fresh(index))) return kSrtpReplay;
  uint32_t roc = uint32_t(index >> 16);

  size_t plainLen;
  if (aead) {
    uint8_t iv[12] = {0};
    put32(iv + 2, ssrc);
    put32(iv + 6, roc);
    iv[10] = uint8_t(seq >> 8);
    iv[11] = uint8_t(seq);
    size_t bodyEnd = len - kGcmTag;
    size_t aadEnd = p_.encryptRtp ? size_t(hl) : bodyEnd;
    if (gcm(false, p_.rtp, iv, buf, aadEnd, nullptr, 0, buf + aadEnd, bodyEnd - aadEnd, buf + bodyEnd)) return kSrtpAuth;
    plainLen = bodyEnd;
  } else {
    // The MKI sits between the payload and the tag and is not authenticated.
    plainLen = len - tagLen - p_.mki;
    if (tagLen) {
      uint8_t rocBytes[4], digest[SHA_DIGEST_LENGTH];
      put32(rocBytes, roc);
      rtpMac_.sign(buf, plainLen, rocBytes, 4, digest);
      if (CRYPTO_memcmp(digest, buf + len - tagLen, tagLen) != 0) return kSrtpAuth;
    }
    if (p_.encryptRtp && p_.cipher == SrtpCipher::AesCm && !ctr(p_.rtp, buf + hl, plainLen - size_t(hl), ssrc, uint64_t(index))) return kSrtpMalformed;
  }
  if (!state) state = &remember(ssrc);
  update(*state, index);
  state->rtp.accept(index);
  return int(plainLen);
}

int Srtp::protectRtcp(uint8_t* buf, size_t len, size_t cap) {
  if (len < 8 || cap < len + 4 + kGcmTag) return kSrtpMalformed;
  uint32_t index = srtcpIndex_;
  srtcpIndex_ = (srtcpIndex_ + 1) & 0x7fffffffu;
  uint32_t word = (p_.encryptRtcp ? kSrtcpEncrypted : 0) | index;
  uint32_t ssrc = be32(buf + 4);
  uint8_t wordBytes[4];
  put32(wordBytes, word);

  if (p_.cipher == SrtpCipher::AesGcm) {
    // RFC 7714 section 9: header || ciphertext || tag || E|index, the word authenticated as AAD.
    uint8_t iv[12] = {0};
    put32(iv + 2, ssrc);
    put32(iv + 8, index);
    size_t aadEnd = p_.encryptRtcp ? 8 : len;
    if (gcm(true, p_.rtcp, iv, buf, aadEnd, wordBytes, 4, buf + aadEnd, len - aadEnd, buf + len)) return kSrtpMalformed;
    std::memcpy(buf + len + kGcmTag, wordBytes, 4);
    return int(len + kGcmTag + 4);
  }
  std::memcpy(buf + len, wordBytes, 4);
  if (p_.encryptRtcp && p_.cipher == SrtpCipher::AesCm && !ctr(p_.rtcp, buf + 8, len - 8, ssrc, index)) return kSrtpMalformed;
  uint8_t digest[SHA_DIGEST_LENGTH];
  rtcpMac_.sign(buf, len + 4, nullptr, 0, digest);
  std::memcpy(buf + len + 4, digest, p_.rtcpTag);
  return int(len + 4 + p_.rtcpTag);
}

int Srtp::unprotectRtcp(uint8_t* buf, size_t len) {
  bool aead = p_.cipher == SrtpCipher::AesGcm;
  size_t tagLen = aead ? kGcmTag : p_.rtcpTag;
  if (len < 8 + 4 + p_.mki + tagLen) return kSrtpMalformed;
  uint32_t ssrc = be32(buf + 4);
  // GCM puts the E|index word after the tag; the HMAC suites before the MKI and tag.
  size_t wordAt = aead ? len - 4 : len - 4 - p_.mki - tagLen;
  uint32_t word = be32(buf + wordAt);
  uint32_t index = word & 0x7fffffffu;
  bool encrypted = (word & kSrtcpEncrypted) != 0;
  SsrcState* state = find(ssrc);
  if (state && !state->rtcp.fresh(index)) return kSrtpReplay;

  size_t plainLen;
  if (aead) {
    uint8_t iv[12] = {0};
    put32(iv + 2, ssrc);
    put32(iv + 8, index);
    size_t bodyEnd = len - 4 - kGcmTag;
    size_t aadEnd = encrypted ? 8 : bodyEnd;
    if (gcm(false, p_.rtcp, iv, buf, aadEnd, buf + wordAt, 4, buf + aadEnd, bodyEnd - aadEnd, buf + bodyEnd)) return kSrtpAuth;
    plainLen = bodyEnd;
  } else {
    uint8_t digest[SHA_DIGEST_LENGTH];
    rtcpMac_.sign(buf, wordAt + 4, nullptr, 0, digest);
    if (CRYPTO_memcmp(digest, buf + len - tagLen, tagLen) != 0) return kSrtpAuth;
    plainLen = wordAt;
    if (encrypted && p_.cipher == SrtpCipher::AesCm && !ctr(p_.rtcp, buf + 8, plainLen - 8, ssrc, index)) return kSrtpMalformed;
  }
  if (!state) state = &remember(ssrc);
  state->rtcp.accept(index);
  return int(plainLen);
}

}  // namespace rtpbridge
