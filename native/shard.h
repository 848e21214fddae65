// One forwarding thread: its sockets in an epoll set, its sides, and the queue the main thread drives it by.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "drops.h"
#include "side.h"

namespace rtpbridge {

struct Totals {
  uint64_t packetsIn = 0, bytesIn = 0, packetsOut = 0, bytesOut = 0;
  uint64_t dropped[kDropReasons] = {};

  void drop(Drop reason, uint64_t n = 1) { dropped[size_t(reason)] += n; }
  void add(const Totals& t) {
    packetsIn += t.packetsIn;
    bytesIn += t.bytesIn;
    packetsOut += t.packetsOut;
    bytesOut += t.bytesOut;
    for (size_t i = 0; i < kDropReasons; i++) dropped[i] += t.dropped[i];
  }
};

// What the main thread tells a shard about a side (src/dataplane/types.ts SideConfig, read by engine.cc).
struct SideConfig {
  std::vector<SideId> sinks;
  bool mux = false;
  bool demux = false;
  Policy policy;
  Advertised rtp, rtcp;
  // SDES keys of the side (both or neither), with `srtpId` naming them; shared with the queued command.
  std::shared_ptr<const SrtpParams> decrypt, encrypt;
  std::string srtpId;
  std::bitset<128> dtmf;
  bool blockDtmf = false;
  bool detectDtmf = false;
  std::vector<PayloadMap> payloadMaps;
};

struct StreamReport {
  uint64_t packets = 0, bytes = 0, errors = 0;
  int64_t lastPacketMs = 0;
  bool hasEndpoint = false;
  std::string host;
  uint16_t port = 0;
  bool confirmed = false;
};

struct SideReport {
  bool found = false;
  StreamReport rtp, rtcp;
  // The side's SRTP progress, when it has keys.
  bool hasSrtp = false;
  SrtpProgress decrypt, encrypt;
};

struct LearnedEvent {
  SideId side;
  Kind kind;
  std::string host;
  uint16_t port;
};

// What is copied to the control plane, numbered as src/dataplane/types.ts's TAP_KINDS: RTCP for the
// call-quality figures, RFC 4733 telephone events for DTMF, other RTP for in-band DTMF.
enum class Tap : uint8_t { rtcp, dtmf, audio };
constexpr const char* kTapNames[] = {"rtcp", "dtmf", "audio"};

// A packet a participant sent (decrypted), copied for the control plane.
struct TapEvent {
  SideId side;
  Tap kind;
  std::vector<uint8_t> packet;
  int64_t atMs;
};

// Called on the shard thread; must not block.
using LearnedSink = std::function<void(LearnedEvent&&)>;
using TapSink = std::function<void(TapEvent&&)>;

// recvmmsg/sendmmsg batch size: past ~64 the syscall saving flattens and the buffers leave L2.
constexpr unsigned kBatch = 64;

class Shard {
 public:
  Shard(LearnedSink sink, TapSink tap);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Main-thread API. Each call is queued behind the ones before it; the synchronous ones return once the
  // thread has carried them out, so their results include every packet it handled before. Adding and
  // releasing sides do not wait (a call setup must not cost two thread round trips per port pair),
  // except a release asked to, whose ports are bound again at once (a call moving to another shard).
  // Adding, configuring and restoring never wake the thread: whatever wakes it next (a packet on any
  // of its sockets, the new ones included, since they are watched at once) runs them first. Only a
  // release needs a wake-up, to close its sockets, and wake() may come late for it.
  // Throws std::system_error when the sockets cannot be watched (out of kernel memory).
  void addSide(std::unique_ptr<Side> side);
  void configure(SideId id, SideConfig config);
  // Learned endpoints (confirmed ones only) and counters a side had on another shard.
  void restore(SideId id, SideReport state);
  void release(SideId id, bool wait);
  std::vector<SideReport> read(const std::vector<SideId>& ids);
  // Unix ms of each side's last packet (0 if none or unknown): the timeout sweep's only need, kept cheap.
  std::vector<double> lastPackets(const std::vector<SideId>& ids);
  Totals totals();
  // Wakes the thread for the releases posted since it last woke, if any: the main thread posts a
  // burst of them and wakes the thread once.
  void wake();
  // Joins the thread and closes every socket; the shard takes no more calls.
  void stop();

 private:
  // `wakeFor`: the command must run even if no packet comes (wake() then writes the eventfd).
  void post(std::function<void()> command, bool wakeFor);
  void callAndWait(const std::function<void()>& command);
  void run();
  // True when a command released a side (so Stream pointers from the last epoll_wait may dangle).
  bool runCommands();

  // Thread side of the commands.
  void doAddSide(std::unique_ptr<Side> side);
  void doConfigure(SideId id, const SideConfig& config);
  void doRestore(SideId id, const SideReport& state);
  void doRelease(SideId id);
  // Points side.sinks at the bound sides among side.sinkIds.
  void resolveSinks(Side& side);
  // Keeps namedBy_ in step when a side's sink list changes.
  void renameSinks(Side& side, const std::vector<SideId>& sinks);
  // Re-resolves the sinks of every side that names `id` (it was just bound or released).
  void resolveNamers(SideId id);
  SideReport report(SideId id) const;

  // The packet path (shard_loop.cc).
  void receive(Stream& in);
  void handle(Stream& in, unsigned slot, int64_t nowMs);
  // Queues a copy of the packet to one sink; `inPlace` when no later sink needs the plain packet.
  void forwardTo(Side& sink, Kind kind, uint8_t* buf, size_t len, bool inPlace, Stream& from);
  void flush();
  void sendRun(unsigned begin, unsigned end);

  LearnedSink sink_;
  TapSink tapSink_;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;

  std::mutex queueMutex_;
  std::vector<std::function<void()>> queue_;
  // A command that needs a wake-up waits in queue_ and the thread has not been woken for it (guarded
  // by queueMutex_).
  bool unwoken_ = false;
  // Commands wait in queue_ at all: whatever wakes the thread (a packet too) runs them first, so a
  // packet sent after a configure sees it even before the wake-up.
  std::atomic<bool> pending_{false};

  // Only the shard thread touches these while it runs.
  std::unordered_map<SideId, std::unique_ptr<Side>> sides_;
  // For each side id, the sides that name it as a sink: binding or releasing it touches only those,
  // never every side of the shard.
  std::unordered_map<SideId, std::vector<SideId>> namedBy_;
  Totals totals_;
  bool released_ = false;

  struct Batch {
    mmsghdr rx[kBatch];
    iovec rxIov[kBatch];
    SockAddr rxFrom[kBatch];
    // Room behind each packet for what SRTP adds when the packet is protected in place.
    uint8_t rxBuf[kBatch][kMaxPacket + kSrtpRoom];
    // Outgoing packets point into rxBuf (the last sink's copy) or copyBuf (the others'); flushed before
    // the next recvmmsg, or earlier when either fills up.
    mmsghdr tx[kBatch];
    iovec txIov[kBatch];
    SockAddr txTo[kBatch];
    int txFd[kBatch];
    unsigned txCount = 0;
    // A packet that goes to several sinks is copied here for all but the last (which takes it in place).
    uint8_t copyBuf[kBatch][kMaxPacket + kSrtpRoom];
    unsigned copyCount = 0;
  };
  std::unique_ptr<Batch> batch_;
};

}  // namespace rtpbridge
