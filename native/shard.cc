#include "shard.h"

#include <algorithm>

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <system_error>

namespace rtpbridge {

Shard::Shard(LearnedSink sink, TapSink tap) : sink_(std::move(sink)), tapSink_(std::move(tap)), batch_(std::make_unique<Batch>()) {
  epollFd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    int err = errno;
    close(epollFd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  // The wake-up fd is the one registration whose data pointer is null; sockets carry their Stream.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);

  Batch& b = *batch_;
  for (unsigned i = 0; i < kBatch; i++) {
    b.rxIov[i] = {b.rxBuf[i], kMaxPacket};
    b.rx[i].msg_hdr.msg_iov = &b.rxIov[i];
    b.rx[i].msg_hdr.msg_iovlen = 1;
    b.rx[i].msg_hdr.msg_name = &b.rxFrom[i];
    b.tx[i].msg_hdr.msg_iov = &b.txIov[i];
    b.tx[i].msg_hdr.msg_iovlen = 1;
    b.tx[i].msg_hdr.msg_name = &b.txTo[i];
  }
  thread_ = std::thread([this] { run(); });
}

Shard::~Shard() { stop(); }

void Shard::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  uint64_t one = 1;
  (void)!write(wakeFd_, &one, sizeof one);
  thread_.join();
  // Commands the thread did not get to (sides added but not yet taken in) still own sockets.
  runCommands();
  for (auto& [id, side] : sides_) {
    close(side->rtp.fd);
    close(side->rtcp.fd);
  }
  sides_.clear();
  close(wakeFd_);
  close(epollFd_);
}

void Shard::post(std::function<void()> command, bool wakeFor) {
  std::lock_guard<std::mutex> lock(queueMutex_);
  // The thread takes the whole queue per wake-up: one wake-up (a syscall and, with the relay pinned to
  // one core, two context switches) serves every command posted before it.
  if (wakeFor) unwoken_ = true;
  queue_.push_back(std::move(command));
  pending_.store(true, std::memory_order_release);
}

void Shard::wake() {
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    if (!unwoken_) return;
    unwoken_ = false;
  }
  uint64_t one = 1;
  (void)!write(wakeFd_, &one, sizeof one);
}

void Shard::callAndWait(const std::function<void()>& command) {
  std::promise<void> done;
  post(
      [&] {
        command();
        done.set_value();
      },
      true);
  wake();
  done.get_future().wait();
}

void Shard::addSide(std::unique_ptr<Side> side) {
  // Watched from here, so the first packet wakes the thread, which then takes the side in before it
  // reads; the Stream pointers stay valid, the side being owned by the queued command until then. The
  // lock is held from before the thread can see an event until the command is queued, and pending_ is
  // set first: a thread woken by the new socket finds the command, waiting for the lock if need be.
  std::lock_guard<std::mutex> lock(queueMutex_);
  pending_.store(true, std::memory_order_release);
  for (Stream* stream : {&side->rtp, &side->rtcp}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = stream;
    if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, stream->fd, &ev) != 0) {
      int err = errno;
      // Closing the fds also unwatches the one that was added.
      close(side->rtp.fd);
      close(side->rtcp.fd);
      throw std::system_error(err, std::generic_category(), "epoll_ctl");
    }
  }
  // std::function needs a copyable callable: the side travels as a raw pointer, owned again at once.
  Side* raw = side.release();
  queue_.push_back([this, raw] { doAddSide(std::unique_ptr<Side>(raw)); });
}

void Shard::configure(SideId id, SideConfig config) {
  post([this, id, config = std::move(config)] { doConfigure(id, config); }, false);
}

void Shard::restore(SideId id, SideReport state) {
  post([this, id, state = std::move(state)] { doRestore(id, state); }, false);
}

void Shard::release(SideId id, bool wait) {
  // With `wait`, the ports are free again when this returns: the caller binds them at once.
  if (wait)
    callAndWait([&] { doRelease(id); });
  else
    post([this, id] { doRelease(id); }, true);
}

std::vector<SideReport> Shard::read(const std::vector<SideId>& ids) {
  std::vector<SideReport> out;
  callAndWait([&] {
    out.reserve(ids.size());
    for (SideId id : ids) out.push_back(report(id));
  });
  return out;
}

std::vector<double> Shard::lastPackets(const std::vector<SideId>& ids) {
  std::vector<double> out(ids.size(), 0.0);
  callAndWait([&] {
    for (size_t i = 0; i < ids.size(); i++) {
      auto it = sides_.find(ids[i]);
      if (it != sides_.end()) out[i] = double(std::max(it->second->rtp.lastPacketMs, it->second->rtcp.lastPacketMs));
    }
  });
  return out;
}

Totals Shard::totals() {
  Totals out;
  callAndWait([&] { out = totals_; });
  return out;
}

void Shard::run() {
  // Shows in top -H / ps -L, so an operator can tell the forwarding threads' load from the main thread's.
  pthread_setname_np(pthread_self(), "rtpbridge-fwd");
  epoll_event events[kBatch];
  while (!stopping_.load(std::memory_order_relaxed)) {
    int n = epoll_wait(epollFd_, events, kBatch, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Only a bug makes epoll_wait fail otherwise; a thread that quietly stopped would hang every caller.
      std::perror("rtpbridge: epoll_wait");
      std::abort();
    }
    // Commands first: a packet sent after a configure must see it. A release may have freed a Stream this
    // batch names; then the batch is dropped and epoll (level-triggered) reports the live sockets again.
    bool woken = pending_.load(std::memory_order_acquire);
    for (int i = 0; i < n; i++) woken = woken || events[i].data.ptr == nullptr;
    if (woken && runCommands()) continue;
    for (int i = 0; i < n; i++)
      if (events[i].data.ptr != nullptr) receive(*static_cast<Stream*>(events[i].data.ptr));
  }
}

bool Shard::runCommands() {
  uint64_t count;
  (void)!::read(wakeFd_, &count, sizeof count);
  std::vector<std::function<void()>> commands;
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    commands.swap(queue_);
    pending_.store(false, std::memory_order_relaxed);
    // Taken already: a wake-up asked for later would find nothing to do.
    unwoken_ = false;
  }
  released_ = false;
  for (auto& command : commands) command();
  return released_;
}

void Shard::doAddSide(std::unique_ptr<Side> side) {
  SideId added = side->id;
  sides_[added] = std::move(side);
  // Sides configured with this one as a sink before it was bound link up now.
  resolveNamers(added);
}

void Shard::doConfigure(SideId id, const SideConfig& config) {
  auto it = sides_.find(id);
  if (it == sides_.end()) return;
  Side& side = *it->second;
  side.configured = true;
  side.policy = config.policy;
  side.mux = config.mux;
  side.demux = config.demux;
  side.dtmf = config.dtmf;
  side.blockDtmf = config.blockDtmf;
  side.detectDtmf = config.detectDtmf;
  side.payloadMaps = config.payloadMaps;
  renameSinks(side, config.sinks);
  resolveSinks(side);
  side.rtp.advertise(config.rtp);
  side.rtcp.advertise(config.rtcp);
  if (config.srtpId != side.srtpId) {
    side.srtpId = config.srtpId;
    side.decrypt = config.decrypt ? std::make_unique<Srtp>(*config.decrypt) : nullptr;
    side.encrypt = config.encrypt ? std::make_unique<Srtp>(*config.encrypt) : nullptr;
  }
}

static void restoreStream(Stream& s, const StreamReport& r) {
  s.packets = r.packets;
  s.bytes = r.bytes;
  s.errors = r.errors;
  s.lastPacketMs = r.lastPacketMs;
  if (!r.hasEndpoint || !r.confirmed) return;
  Address at;
  if (!parseAddress(r.host, r.port, at)) return;
  s.hasEndpoint = true;
  s.learned = true;
  s.endpoint = at;
  s.confirmed = true;
}

void Shard::doRestore(SideId id, const SideReport& state) {
  auto it = sides_.find(id);
  if (it == sides_.end()) return;
  restoreStream(it->second->rtp, state.rtp);
  restoreStream(it->second->rtcp, state.rtcp);
  Side& side = *it->second;
  if (state.hasSrtp && side.decrypt && side.encrypt) {
    side.decrypt->resume(state.decrypt);
    side.encrypt->resume(state.encrypt);
  }
}

void Shard::doRelease(SideId id) {
  auto it = sides_.find(id);
  if (it == sides_.end()) return;
  Side& gone = *it->second;
  // Closing the fds also takes them out of the epoll set (they are never dup'ed).
  close(gone.rtp.fd);
  close(gone.rtcp.fd);
  renameSinks(gone, {});
  sides_.erase(it);
  resolveNamers(id);
  released_ = true;
}

void Shard::resolveSinks(Side& side) {
  side.sinks.clear();
  for (SideId id : side.sinkIds) {
    auto it = sides_.find(id);
    if (it != sides_.end()) side.sinks.push_back(it->second.get());
  }
}

void Shard::renameSinks(Side& side, const std::vector<SideId>& sinks) {
  for (SideId old : side.sinkIds) {
    auto named = namedBy_.find(old);
    if (named == namedBy_.end()) continue;
    auto& namers = named->second;
    namers.erase(std::remove(namers.begin(), namers.end(), side.id), namers.end());
    if (namers.empty()) namedBy_.erase(named);
  }
  side.sinkIds = sinks;
  for (SideId sink : sinks) namedBy_[sink].push_back(side.id);
}

void Shard::resolveNamers(SideId id) {
  auto named = namedBy_.find(id);
  if (named == namedBy_.end()) return;
  for (SideId namer : named->second) {
    auto it = sides_.find(namer);
    if (it != sides_.end()) resolveSinks(*it->second);
  }
}

static StreamReport streamReport(const Stream& s) {
  StreamReport r;
  r.packets = s.packets;
  r.bytes = s.bytes;
  r.errors = s.errors;
  r.lastPacketMs = s.lastPacketMs;
  r.confirmed = s.confirmed;
  r.hasEndpoint = s.hasEndpoint;
  if (s.hasEndpoint) {
    // Until something is learned, echo the SDP address exactly as the control plane wrote it.
    r.host = s.learned ? formatHost(s.endpoint) : s.advertised.host;
    r.port = s.learned ? s.endpoint.port() : s.advertised.port;
  }
  return r;
}

SideReport Shard::report(SideId id) const {
  SideReport r;
  auto it = sides_.find(id);
  if (it == sides_.end()) return r;
  r.found = true;
  r.rtp = streamReport(it->second->rtp);
  r.rtcp = streamReport(it->second->rtcp);
  const Side& side = *it->second;
  if (side.decrypt && side.encrypt) {
    r.hasSrtp = true;
    r.decrypt = side.decrypt->progress();
    r.encrypt = side.encrypt->progress();
  }
  return r;
}

}  // namespace rtpbridge
