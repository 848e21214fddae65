// The packet path: receive a batch on one socket, check, learn, count, and send the batch on.
#include <time.h>

#include <cerrno>
#include <cstring>

#include "shard.h"

namespace rtpbridge {

// Rounds of recvmmsg per readable socket before the others get a turn (epoll is level-triggered, so
// whatever is left is reported again).
constexpr int kRoundsPerWakeup = 4;

static int64_t nowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Shard::receive(Stream& in) {
  Batch& b = *batch_;
  for (int round = 0; round < kRoundsPerWakeup; round++) {
    for (unsigned i = 0; i < kBatch; i++) b.rx[i].msg_hdr.msg_namelen = sizeof(SockAddr);
    // MSG_TRUNC: msg_len is the datagram's real length, so oversized ones are seen (and dropped) as such.
    int n = recvmmsg(in.fd, b.rx, kBatch, MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n <= 0) return;
    // One clock read per batch: packets of one batch arrived within microseconds of each other.
    int64_t now = nowMs();
    b.txCount = 0;
    b.copyCount = 0;
    for (unsigned i = 0; i < unsigned(n); i++) handle(in, i, now);
    flush();
    if (unsigned(n) < kBatch) return;
  }
}

void Shard::handle(Stream& in, unsigned slot, int64_t nowMs) {
  Batch& b = *batch_;
  Side& side = *in.side;
  uint8_t* buf = b.rxBuf[slot];
  size_t len = b.rx[slot].msg_len;
  totals_.packetsIn++;
  totals_.bytesIn += len;

  // RTCP on the RTP port only from a participant that muxes or was offered mux (RFC 5761).
  Stream& stream = in.kind == Kind::RTP && side.demux && looksLikeRtcp(buf, len) ? side.rtcp : in;
  if (!wellFormed(stream.kind, buf, len)) {
    stream.errors++;
    totals_.drop(Drop::malformed);
    return;
  }
  Address source;
  std::memcpy(&source.sa, &b.rxFrom[slot], b.rx[slot].msg_hdr.msg_namelen);
  // Strangers are rate-limited before any work that costs: SRTP checks, learning.
  if (!(stream.hasEndpoint && sameEndpoint(stream.endpoint, source)) && !stream.admitStranger(nowMs)) {
    stream.errors++;
    totals_.drop(Drop::rateLimited);
    return;
  }
  // Authenticate before learning, so a forged packet cannot move the media somewhere else.
  if (side.decrypt) {
    int plain = side.decrypt->unprotect(stream.kind, buf, len);
    if (plain < 0) {
      stream.errors++;
      totals_.drop(Drop::srtp);
      return;
    }
    len = size_t(plain);
  }
  bool learnedNow;
  if (!acceptSource(side, stream, source, nowMs, learnedNow)) {
    stream.errors++;
    totals_.drop(Drop::unknownSource);
    return;
  }
  if (learnedNow) sink_({side.id, stream.kind, formatHost(source), source.port()});
  stream.packets++;
  stream.bytes += b.rx[slot].msg_len;
  stream.lastPacketMs = nowMs;
  // RTCP is a packet every few seconds per stream, telephone events a few dozen per key press: the
  // control plane reads call quality and DTMF from copies.
  if (stream.kind == Kind::RTCP)
    tapSink_({side.id, Tap::rtcp, std::vector<uint8_t>(buf, buf + len), nowMs});
  else if (len > 12 && side.dtmf.test(buf[1] & 0x7f)) {
    tapSink_({side.id, Tap::dtmf, std::vector<uint8_t>(buf, buf + len), nowMs});
    // A blocked participant's key presses are seen, not passed on; a policy, not the stream's error.
    if (side.blockDtmf) {
      totals_.drop(Drop::dtmfBlocked);
      return;
    }
  } else if (side.detectDtmf) {
    tapSink_({side.id, Tap::audio, std::vector<uint8_t>(buf, buf + len), nowMs});
  }

  size_t sinks = side.sinks.size();
  if (sinks == 0) {
    totals_.drop(Drop::noDestination);
    return;
  }
  for (size_t i = 0; i < sinks; i++) forwardTo(*side.sinks[i], stream.kind, buf, len, i + 1 == sinks, stream);
}

void Shard::forwardTo(Side& sink, Kind kind, uint8_t* buf, size_t len, bool inPlace, Stream& from) {
  Batch& b = *batch_;
  Stream& out = kind == Kind::RTP || sink.mux ? sink.rtp : sink.rtcp;
  if (!out.hasEndpoint) {
    totals_.drop(Drop::noDestination);
    return;
  }
  // A destination the socket cannot take (other family, not an IP literal) costs one packet, not the relay.
  if (out.endpoint.family() != sink.family) {
    totals_.drop(Drop::sendError);
    return;
  }
  // The queue holds pointers into this batch's buffers: send what is queued before reusing any slot.
  if (b.txCount == kBatch || (!inPlace && b.copyCount == kBatch)) {
    flush();
    b.txCount = 0;
    b.copyCount = 0;
  }
  if (!inPlace) {
    uint8_t* copy = b.copyBuf[b.copyCount++];
    std::memcpy(copy, buf, len);
    buf = copy;
  }
  if (kind == Kind::RTP && !sink.payloadMaps.empty() && !mapPayload(sink.payloadMaps, buf, len)) {
    from.errors++;
    totals_.drop(Drop::malformed);
    return;
  }
  if (sink.encrypt) {
    int sealed = sink.encrypt->protect(kind, buf, len, kMaxPacket + kSrtpRoom);
    // Never let a packet the transform refused out in the clear.
    if (sealed < 0) {
      from.errors++;
      totals_.drop(Drop::malformed);
      return;
    }
    len = size_t(sealed);
  }
  unsigned t = b.txCount++;
  b.txFd[t] = out.fd;
  // Copied, not pointed to: a later packet of this batch may move the endpoint.
  b.txTo[t] = out.endpoint.sa;
  b.tx[t].msg_hdr.msg_namelen = out.endpoint.length();
  b.txIov[t] = {buf, len};
}

void Shard::flush() {
  Batch& b = *batch_;
  unsigned begin = 0;
  while (begin < b.txCount) {
    unsigned end = begin + 1;
    while (end < b.txCount && b.txFd[end] == b.txFd[begin]) end++;
    sendRun(begin, end);
    begin = end;
  }
}

// Sends tx[begin, end), all on one socket. A packet the kernel refuses is dropped and counted; a full
// send buffer drops the rest of the run rather than stall every other socket of the thread.
void Shard::sendRun(unsigned begin, unsigned end) {
  Batch& b = *batch_;
  int fd = b.txFd[begin];
  while (begin < end) {
    int sent = sendmmsg(fd, &b.tx[begin], end - begin, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        totals_.drop(Drop::sendError, end - begin);
        return;
      }
      totals_.drop(Drop::sendError);
      begin++;
      continue;
    }
    for (unsigned i = begin; i < begin + unsigned(sent); i++) {
      totals_.packetsOut++;
      totals_.bytesOut += b.txIov[i].iov_len;
    }
    begin += sent;
  }
}

}  // namespace rtpbridge
