#include "side.h"

namespace rtpbridge {

// rtpengine commits to a learned source 3 s after media starts ("delayed"/"heuristic" learning).
constexpr int64_t kLearningWindowMs = 3000;
// Packets per second (and burst) a stream takes from other sources than its endpoint.
constexpr double kStrangerRate = 100;
constexpr double kStrangerBurst = 100;
// Above every heuristic rank: the exact address and port of the participant's SDP.
constexpr int kSignalledRank = 5;

bool Stream::admitStranger(int64_t nowMs) {
  double tokens = strangerTokens < 0 ? kStrangerBurst : strangerTokens + double(nowMs - strangerAtMs) * kStrangerRate / 1000.0;
  if (tokens > kStrangerBurst) tokens = kStrangerBurst;
  strangerAtMs = nowMs;
  if (tokens < 1) {
    strangerTokens = tokens;
    return false;
  }
  strangerTokens = tokens - 1;
  return true;
}

void Stream::advertise(const Advertised& next) {
  if (next.present == advertised.present && (!next.present || (next.host == advertised.host && next.port == advertised.port))) return;
  advertised = next;
  hasEndpoint = next.present;
  learned = false;
  endpoint = next.parsed;
  confirmed = false;
  learnRank = 0;
  firstPacketMs = 0;
}

// rtpengine's heuristic: exact SDP match beats same address, beats same port, beats anything.
static int heuristicRank(const Advertised& advertised, const Address& source) {
  if (!advertised.present) return 1;
  bool samePort = advertised.port == source.port();
  if (sameHost(advertised.parsed, source)) return samePort ? 4 : 3;
  return samePort ? 2 : 1;
}

bool acceptSource(const Side& side, Stream& stream, const Address& source, int64_t nowMs, bool& learnedNow) {
  learnedNow = false;
  const Policy& policy = side.policy;
  bool isCurrent = stream.hasEndpoint && sameEndpoint(stream.endpoint, source);
  if (isCurrent && stream.confirmed) return true;
  if (stream.firstPacketMs == 0) stream.firstPacketMs = nowMs;
  // Before the first configure there is no policy: forward, learn nothing, restrict nothing.
  if (!side.configured) return true;
  if (policy.asymmetric || policy.mode == Learning::Off) return !policy.strictSource || isCurrent || !stream.hasEndpoint;
  // The exact address of the participant's SDP wins at once and for good: a third party that spoke
  // first (to a callee still silent) cannot keep the media, nor lock the callee out with strict-source.
  if (stream.advertised.present && sameEndpoint(stream.advertised.parsed, source)) {
    if (!isCurrent) {
      stream.hasEndpoint = true;
      stream.learned = true;
      stream.endpoint = source;
      learnedNow = true;
    }
    stream.learnRank = kSignalledRank;
    stream.confirmed = true;
    return true;
  }
  if (stream.confirmed) return !policy.strictSource;

  bool windowOver = policy.mode == Learning::Immediate || nowMs - stream.firstPacketMs >= kLearningWindowMs;
  int rank = policy.mode == Learning::Heuristic ? heuristicRank(stream.advertised, source) : 1;
  if (!isCurrent && rank >= stream.learnRank) {
    stream.hasEndpoint = true;
    stream.learned = true;
    stream.endpoint = source;
    stream.learnRank = rank;
    learnedNow = true;
  }
  if (windowOver) stream.confirmed = true;
  return true;
}

bool mapPayload(const std::vector<PayloadMap>& maps, uint8_t* buf, size_t len) {
  uint8_t pt = buf[1] & 0x7f;
  for (const PayloadMap& m : maps) {
    if (m.fromPt != pt) continue;
    long header = rtpHeaderLength(buf, len);
    if (header < 0) return true;
    size_t padding = (buf[0] & 0x20) ? buf[len - 1] : 0;
    if (padding > len - size_t(header)) return false;
    buf[1] = uint8_t((buf[1] & 0x80) | m.toPt);
    for (size_t i = size_t(header), end = len - padding; i < end; i++) buf[i] = m.table[buf[i]];
    return true;
  }
  return true;
}

}  // namespace rtpbridge
