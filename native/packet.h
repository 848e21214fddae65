// What the relay checks of a packet before forwarding it: nothing beyond the fixed header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtpbridge {

enum class Kind : uint8_t { RTP = 0, RTCP = 1 };

// Larger datagrams are not media the relay forwards; they are dropped as malformed.
constexpr size_t kMaxPacket = 2048;

// RFC 5761 section 4: on a muxed port, packet types 192-223 are RTCP (RTP avoids payload types 64-95).
inline bool looksLikeRtcp(const uint8_t* buf, size_t len) { return len >= 2 && buf[1] >= 192 && buf[1] <= 223; }

// Version 2 and at least a fixed header; anything else on a media port is not ours to forward.
inline bool wellFormed(Kind kind, const uint8_t* buf, size_t len) {
  return len >= 1 && (buf[0] >> 6) == 2 && len >= (kind == Kind::RTP ? 12u : 8u) && len <= kMaxPacket;
}

// RTP fixed header + CSRCs + header extension; -1 if the packet is shorter than its header claims.
inline long rtpHeaderLength(const uint8_t* buf, size_t len) {
  if (len < 12) return -1;
  size_t hl = 12 + (buf[0] & 0x0f) * 4;
  if (buf[0] & 0x10) {
    if (len < hl + 4) return -1;
    hl += 4 + (size_t(buf[hl + 2]) << 8 | buf[hl + 3]) * 4;
  }
  return hl <= len ? long(hl) : -1;
}

}  // namespace rtpbridge
