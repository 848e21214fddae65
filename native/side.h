// One participant's RTP/RTCP port pair as a forwarding thread sees it, and endpoint learning.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "address.h"
#include "packet.h"
#include "srtp.h"

namespace rtpbridge {

using SideId = int64_t;

// Endpoint-learning modes, in the order and words of src/shared/vocabulary.ts's ENDPOINT_LEARNING
// (test/drop-reasons.test.ts compares them through Engine.learningModes).
enum class Learning : uint8_t { Off, Immediate, Delayed, Heuristic };
constexpr const char* kLearningNames[] = {"off", "immediate", "delayed", "heuristic"};
constexpr size_t kLearningModes = sizeof kLearningNames / sizeof kLearningNames[0];

struct Policy {
  Learning mode = Learning::Delayed;
  // The participant sends from elsewhere than it receives: never learn (rtpengine `asymmetric`).
  bool asymmetric = false;
  // After learning, drop packets from any other source (rtpengine `strict source`).
  bool strictSource = false;
};

// An address from the participant's SDP, kept as written so reports echo it unchanged.
struct Advertised {
  bool present = false;
  std::string host;
  uint16_t port = 0;
  Address parsed;  // not usable() when `host` is not an IP literal
};

// A conversion of what a participant is sent that maps its payload byte for byte (G.711 law to law):
// packets of `fromPt` leave as `toPt`, each payload byte through `table`. The table comes from the TS
// side (src/codecs/g711.ts, the one place the laws are written); src/codecs/transcoder.ts's G711Table
// applies the same on the workers.
struct PayloadMap {
  uint8_t fromPt = 0;
  uint8_t toPt = 0;
  std::array<uint8_t, 256> table{};
};

// Applies the map for the packet's payload type, if any, in place; false when its padding claims more
// than the packet holds (the workers drop it as malformed too). A header too short passes as it is.
bool mapPayload(const std::vector<PayloadMap>& maps, uint8_t* buf, size_t len);

struct Side;

struct Stream {
  Kind kind;
  int fd = -1;
  Side* side = nullptr;

  Advertised advertised;
  // Where packets for the participant go: the advertised address until a learned one replaces it.
  bool hasEndpoint = false;
  bool learned = false;
  Address endpoint;
  bool confirmed = false;
  // Heuristic learning keeps the best-ranked source seen so far.
  int learnRank = 0;
  int64_t firstPacketMs = 0;
  int64_t lastPacketMs = 0;

  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  // Token bucket for packets from other sources than `endpoint` (src/dataplane/forwarder.ts's twin).
  double strangerTokens = -1;  // -1: full, no such packet yet
  int64_t strangerAtMs = 0;

  explicit Stream(Kind k) : kind(k) {}
  // Whether a packet from another source than the endpoint may be looked at now (takes a token).
  bool admitStranger(int64_t nowMs);

  // New SDP from the participant: learning starts over only when the address really changed.
  void advertise(const Advertised& next);
};

struct Side {
  SideId id;
  int family;  // AF_INET or AF_INET6, of both sockets
  Stream rtp{Kind::RTP};
  Stream rtcp{Kind::RTCP};
  bool configured = false;
  Policy policy;
  bool mux = false;
  // RTCP on the RTP port is RTCP (the participant muxes or was offered mux); otherwise it is RTP.
  bool demux = false;
  // Payload types of the RFC 4733 telephone events the participant sends: copied to the control plane.
  std::bitset<128> dtmf;
  // Those packets stop here (`block DTMF`), after the copy.
  bool blockDtmf = false;
  // Every other RTP packet is copied up too, for in-band DTMF (`detect DTMF`).
  bool detectDtmf = false;
  // Byte-for-byte payload conversions of what the participant is sent (`transcode` between G.711 laws).
  std::vector<PayloadMap> payloadMaps;
  // Sides whose participants get what this one sends (through their sockets), as configured...
  std::vector<SideId> sinkIds;
  // ...and those of them bound on this thread: the packet path follows only these.
  std::vector<Side*> sinks;
  // The participant's key (what it sends is SRTP) and the relay's towards it; null while plain.
  std::unique_ptr<Srtp> decrypt, encrypt;
  // Identifies the keys in use, so a repeated configure keeps ROC and replay state.
  std::string srtpId;

  Side(SideId i, int fam, int rtpFd, int rtcpFd) : id(i), family(fam) {
    rtp.fd = rtpFd;
    rtcp.fd = rtcpFd;
    rtp.side = rtcp.side = this;
  }
};

// Endpoint learning as rtpengine does it; false when strict-source rejects the packet. Sets `learnedNow`
// when the stream's endpoint moved to `source`.
bool acceptSource(const Side& side, Stream& stream, const Address& source, int64_t nowMs, bool& learnedNow);

}  // namespace rtpbridge
