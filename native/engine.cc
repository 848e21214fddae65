// The addon's JavaScript face: an Engine owns the forwarding threads and turns JS calls into their
// commands. Everything here runs on the JS thread except the learned-event hand-off.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <system_error>
#include <vector>

#include "shard.h"
#include "sockets.h"

namespace rtpbridge {
namespace {

void callLearned(Napi::Env env, Napi::Function listener, std::nullptr_t*, LearnedEvent* event) {
  std::unique_ptr<LearnedEvent> owned(event);
  // env is null while the function is being torn down: the event has nowhere to go.
  if (env == nullptr || listener.IsEmpty()) return;
  listener.Call({Napi::Number::New(env, double(event->side)), Napi::Number::New(env, double(event->kind)),
                 Napi::String::New(env, event->host), Napi::Number::New(env, event->port)});
}

using LearnedFunction = Napi::TypedThreadSafeFunction<std::nullptr_t, LearnedEvent, callLearned>;

void callTap(Napi::Env env, Napi::Function listener, std::nullptr_t*, TapEvent* event) {
  std::unique_ptr<TapEvent> owned(event);
  if (env == nullptr || listener.IsEmpty()) return;
  listener.Call({Napi::Number::New(env, double(event->side)), Napi::Number::New(env, double(event->kind)),
                 Napi::Buffer<uint8_t>::Copy(env, event->packet.data(), event->packet.size()), Napi::Number::New(env, double(event->atMs))});
}

using TapFunction = Napi::TypedThreadSafeFunction<std::nullptr_t, TapEvent, callTap>;

// Copies waiting for the JS thread; beyond this they are dropped (quality and DTMF reports, never media).
constexpr size_t kTapQueue = 4096;

Napi::Error codedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

SideId sideArg(const Napi::Value& v) { return SideId(v.As<Napi::Number>().DoubleValue()); }

Learning learningArg(const Napi::Value& v) {
  std::string mode = v.As<Napi::String>().Utf8Value();
  for (size_t i = 0; i < kLearningModes; i++)
    if (mode == kLearningNames[i]) return Learning(i);
  throw Napi::TypeError::New(v.Env(), "unknown endpoint-learning mode " + mode);
}

// {address, port} or null.
Advertised advertisedArg(const Napi::Value& v) {
  Advertised a;
  if (v.IsNull() || v.IsUndefined()) return a;
  Napi::Object o = v.As<Napi::Object>();
  a.present = true;
  a.host = o.Get("address").As<Napi::String>().Utf8Value();
  a.port = uint16_t(o.Get("port").As<Napi::Number>().Uint32Value());
  parseAddress(a.host, a.port, a.parsed);
  return a;
}

// {fromPt, toPt, table: 256 bytes}: a payload map as nativeSideConfig writes it.
PayloadMap payloadMapArg(const Napi::Value& v) {
  Napi::Object o = v.As<Napi::Object>();
  uint32_t from = o.Get("fromPt").As<Napi::Number>().Uint32Value();
  uint32_t to = o.Get("toPt").As<Napi::Number>().Uint32Value();
  Napi::Uint8Array table = o.Get("table").As<Napi::Uint8Array>();
  if (from > 127 || to > 127 || table.ElementLength() != 256) throw Napi::TypeError::New(v.Env(), "configure: a payload map needs payload types 0-127 and a 256-byte table");
  PayloadMap map;
  map.fromPt = uint8_t(from);
  map.toPt = uint8_t(to);
  std::copy(table.Data(), table.Data() + 256, map.table.begin());
  return map;
}

// The keys of the object configure() takes. src/dataplane/native.ts's nativeSideConfig builds it;
// test/drop-reasons.test.ts compares its keys with Engine.configKeys, and here a key either side adds
// without the other is refused at run time.
constexpr const char* kConfigKeys[] = {"sinks", "mux", "demux", "policy", "rtp", "rtcp", "srtp", "dtmf", "blockDtmf", "detectDtmf", "payloadMaps"};

void checkConfigKeys(const Napi::Object& o) {
  Napi::Array keys = o.GetPropertyNames();
  for (const char* key : kConfigKeys)
    if (!o.HasOwnProperty(key)) throw Napi::TypeError::New(o.Env(), std::string("configure: missing key ") + key);
  if (keys.Length() != sizeof kConfigKeys / sizeof kConfigKeys[0])
    throw Napi::TypeError::New(o.Env(), "configure: unexpected keys beside the ones in Engine.configKeys");
}

Napi::Array stringList(Napi::Env env, const char* const* names, size_t count) {
  Napi::Array out = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) out.Set(uint32_t(i), Napi::String::New(env, names[i]));
  return out;
}

Napi::Value streamObject(Napi::Env env, const StreamReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("packets", double(r.packets));
  o.Set("bytes", double(r.bytes));
  o.Set("errors", double(r.errors));
  o.Set("lastPacketMs", double(r.lastPacketMs));
  if (r.hasEndpoint) {
    Napi::Object ep = Napi::Object::New(env);
    ep.Set("address", r.host);
    ep.Set("port", double(r.port));
    o.Set("endpoint", ep);
  } else {
    o.Set("endpoint", env.Null());
  }
  o.Set("confirmed", r.confirmed);
  return o;
}

// {srtcpIndex, ssrcs: [[ssrc, index], ...]}
Napi::Object progressObject(Napi::Env env, const SrtpProgress& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("srtcpIndex", double(p.srtcpIndex));
  Napi::Array ssrcs = Napi::Array::New(env, p.ssrcs.size());
  for (size_t i = 0; i < p.ssrcs.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(uint32_t(0), double(p.ssrcs[i].first));
    pair.Set(uint32_t(1), double(p.ssrcs[i].second));
    ssrcs.Set(uint32_t(i), pair);
  }
  o.Set("ssrcs", ssrcs);
  return o;
}

SrtpProgress progressArg(const Napi::Object& o) {
  SrtpProgress p;
  p.srtcpIndex = o.Get("srtcpIndex").As<Napi::Number>().Uint32Value();
  Napi::Array ssrcs = o.Get("ssrcs").As<Napi::Array>();
  for (uint32_t i = 0; i < ssrcs.Length(); i++) {
    Napi::Array pair = ssrcs.Get(i).As<Napi::Array>();
    p.ssrcs.emplace_back(pair.Get(uint32_t(0)).As<Napi::Number>().Uint32Value(), int64_t(pair.Get(uint32_t(1)).As<Napi::Number>().DoubleValue()));
  }
  return p;
}

StreamReport streamReportArg(const Napi::Object& o) {
  StreamReport r;
  r.packets = uint64_t(o.Get("packets").As<Napi::Number>().DoubleValue());
  r.bytes = uint64_t(o.Get("bytes").As<Napi::Number>().DoubleValue());
  r.errors = uint64_t(o.Get("errors").As<Napi::Number>().DoubleValue());
  r.lastPacketMs = int64_t(o.Get("lastPacketMs").As<Napi::Number>().DoubleValue());
  r.confirmed = o.Get("confirmed").ToBoolean();
  Napi::Value endpoint = o.Get("endpoint");
  r.hasEndpoint = endpoint.IsObject();
  if (r.hasEndpoint) {
    r.host = endpoint.As<Napi::Object>().Get("address").As<Napi::String>().Utf8Value();
    r.port = uint16_t(endpoint.As<Napi::Object>().Get("port").As<Napi::Number>().Uint32Value());
  }
  return r;
}

std::vector<uint8_t> bytesArg(const Napi::Object& o, const char* key) {
  Napi::Buffer<uint8_t> b = o.Get(key).As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(b.Data(), b.Data() + b.Length());
}

SrtpSessionKeys sessionKeysArg(const Napi::Object& o) { return {bytesArg(o, "enc"), bytesArg(o, "salt"), bytesArg(o, "auth")}; }

// {cipher, rtpTag, rtcpTag, encryptRtp, encryptRtcp, authRtp, mki, rtp: {enc, salt, auth}, rtcp: {...}} or null.
std::shared_ptr<const SrtpParams> srtpArg(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  auto p = std::make_shared<SrtpParams>();
  std::string cipher = o.Get("cipher").As<Napi::String>().Utf8Value();
  p->cipher = cipher == "aes-gcm" ? SrtpCipher::AesGcm : cipher == "null" ? SrtpCipher::Null : SrtpCipher::AesCm;
  p->rtpTag = o.Get("rtpTag").As<Napi::Number>().Uint32Value();
  p->rtcpTag = o.Get("rtcpTag").As<Napi::Number>().Uint32Value();
  p->encryptRtp = o.Get("encryptRtp").ToBoolean();
  p->encryptRtcp = o.Get("encryptRtcp").ToBoolean();
  p->authRtp = o.Get("authRtp").ToBoolean();
  p->mki = o.Get("mki").As<Napi::Number>().Uint32Value();
  p->rtp = sessionKeysArg(o.Get("rtp").As<Napi::Object>());
  p->rtcp = sessionKeysArg(o.Get("rtcp").As<Napi::Object>());
  // Reject here, on the main thread, what OpenSSL would refuse on the shard.
  Srtp probe(*p);
  return p;
}

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&Engine::bind>("bind"), InstanceMethod<&Engine::configure>("configure"),
                        InstanceMethod<&Engine::release>("release"), InstanceMethod<&Engine::flush>("flush"), InstanceMethod<&Engine::restore>("restore"), InstanceMethod<&Engine::read>("read"),
                        InstanceMethod<&Engine::lastPackets>("lastPackets"),
                        InstanceMethod<&Engine::counters>("counters"), InstanceMethod<&Engine::close>("close"),
                        StaticValue("configKeys", stringList(env, kConfigKeys, sizeof kConfigKeys / sizeof kConfigKeys[0])),
                        StaticValue("dropReasons", stringList(env, kDropNames, kDropReasons)),
                        StaticValue("learningModes", stringList(env, kLearningNames, kLearningModes)),
                        StaticValue("tapKinds", stringList(env, kTapNames, sizeof kTapNames / sizeof kTapNames[0]))});
  }

  explicit Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsFunction() || !info[2].IsFunction()) throw Napi::TypeError::New(env, "new Engine(threads, onLearned, onTapped)");
    uint32_t threads = info[0].As<Napi::Number>().Uint32Value();
    if (threads < 1) throw Napi::RangeError::New(env, "at least one forwarding thread");
    learned_ = LearnedFunction::New(env, info[1].As<Napi::Function>(), "rtpbridge-learned", 0, 1);
    // Learned events alone must not keep the process alive; close() is what ends the engine.
    learned_.Unref(env);
    // Bounded: under an RTCP or telephone-event flood NonBlockingCall fails with queue-full and the copy is dropped.
    tap_ = TapFunction::New(env, info[2].As<Napi::Function>(), "rtpbridge-tap", kTapQueue, 1);
    tap_.Unref(env);
    LearnedFunction learned = learned_;
    TapFunction tap = tap_;
    try {
      for (uint32_t i = 0; i < threads; i++)
        shards_.push_back(std::make_unique<Shard>(
            [learned](LearnedEvent&& event) mutable {
              auto* copy = new LearnedEvent(std::move(event));
              if (learned.NonBlockingCall(copy) != napi_ok) delete copy;
            },
            [tap](TapEvent&& event) mutable {
              auto* copy = new TapEvent(std::move(event));
              if (tap.NonBlockingCall(copy) != napi_ok) delete copy;
            }));
    } catch (const std::exception& e) {
      stop();
      throw codedError(env, "DATAPLANE_FAILED", std::string("cannot start forwarding threads: ") + e.what());
    }
  }

  ~Engine() override { stop(); }

 private:
  // bind(side, shard, local, family 'IP4'|'IP6', rtpPort) -> 'bound' | 'in-use'
  Napi::Value bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    SideId id = sideArg(info[0]);
    uint32_t shard = info[1].As<Napi::Number>().Uint32Value();
    std::string local = info[2].As<Napi::String>().Utf8Value();
    int family = info[3].As<Napi::String>().Utf8Value() == "IP6" ? AF_INET6 : AF_INET;
    uint32_t rtpPort = info[4].As<Napi::Number>().Uint32Value();
    if (closed_) throw codedError(env, "DATAPLANE_FAILED", "the data plane is closed");
    if (shard >= shards_.size()) throw codedError(env, "DATAPLANE_FAILED", "no forwarding shard " + std::to_string(shard));
    if (sideShard_.count(id)) throw Napi::Error::New(env, "side " + std::to_string(id) + " is already bound");
    SocketPair fds;
    try {
      if (!bindPair(local, family, rtpPort, fds)) return Napi::String::New(env, "in-use");
    } catch (const InterfaceError& e) {
      throw codedError(env, "NO_INTERFACE", e.what());
    }
    try {
      shards_[shard]->addSide(std::make_unique<Side>(id, family, fds.rtp, fds.rtcp));
    } catch (const std::system_error& e) {
      throw codedError(env, "DATAPLANE_FAILED", std::string("cannot watch media sockets: ") + e.what());
    }
    sideShard_[id] = shard;
    return Napi::String::New(env, "bound");
  }

  // configure(side, {sinks: side[], mux, policy: {mode, asymmetric, strictSource}, rtp: {address, port}|null,
  //                  rtcp: ...|null, srtp: {decrypt, encrypt, id}|null})
  void configure(const Napi::CallbackInfo& info) {
    Napi::Object o = info[1].As<Napi::Object>();
    // The TS side builds every config in one function (nativeSideConfig): checking the first one's keys
    // catches a drift between the two sides without listing the keys of every configure.
    if (!keysChecked_) {
      checkConfigKeys(o);
      keysChecked_ = true;
    }
    auto it = sideShard_.find(sideArg(info[0]));
    if (closed_ || it == sideShard_.end()) return;
    SideConfig config;
    Napi::Array sinks = o.Get("sinks").As<Napi::Array>();
    for (uint32_t i = 0; i < sinks.Length(); i++) config.sinks.push_back(sideArg(sinks.Get(i)));
    config.mux = o.Get("mux").ToBoolean();
    config.demux = o.Get("demux").ToBoolean();
    Napi::Object policy = o.Get("policy").As<Napi::Object>();
    config.policy.mode = learningArg(policy.Get("mode"));
    config.policy.asymmetric = policy.Get("asymmetric").ToBoolean();
    config.policy.strictSource = policy.Get("strictSource").ToBoolean();
    config.rtp = advertisedArg(o.Get("rtp"));
    config.rtcp = advertisedArg(o.Get("rtcp"));
    Napi::Array dtmf = o.Get("dtmf").As<Napi::Array>();
    for (uint32_t i = 0; i < dtmf.Length(); i++) {
      uint32_t pt = dtmf.Get(i).As<Napi::Number>().Uint32Value();
      if (pt < 128) config.dtmf.set(pt);
    }
    config.blockDtmf = o.Get("blockDtmf").ToBoolean();
    config.detectDtmf = o.Get("detectDtmf").ToBoolean();
    Napi::Array maps = o.Get("payloadMaps").As<Napi::Array>();
    for (uint32_t i = 0; i < maps.Length(); i++) config.payloadMaps.push_back(payloadMapArg(maps.Get(i)));
    Napi::Value srtp = o.Get("srtp");
    if (!srtp.IsNull() && !srtp.IsUndefined()) {
      Napi::Object keys = srtp.As<Napi::Object>();
      try {
        config.decrypt = srtpArg(keys.Get("decrypt"));
        config.encrypt = srtpArg(keys.Get("encrypt"));
      } catch (const std::runtime_error& e) {
        throw codedError(info.Env(), "SRTP_INVALID", e.what());
      }
      config.srtpId = keys.Get("id").As<Napi::String>().Utf8Value();
    }
    shards_[it->second]->configure(it->first, std::move(config));
  }

  // restore(side, {rtp: StreamState, rtcp: StreamState}): the shape read() returns.
  void restore(const Napi::CallbackInfo& info) {
    auto it = sideShard_.find(sideArg(info[0]));
    if (closed_ || it == sideShard_.end()) return;
    Napi::Object state = info[1].As<Napi::Object>();
    SideReport report;
    report.found = true;
    report.rtp = streamReportArg(state.Get("rtp").As<Napi::Object>());
    report.rtcp = streamReportArg(state.Get("rtcp").As<Napi::Object>());
    Napi::Value srtp = state.Get("srtp");
    if (srtp.IsObject()) {
      report.hasSrtp = true;
      report.decrypt = progressArg(srtp.As<Napi::Object>().Get("decrypt").As<Napi::Object>());
      report.encrypt = progressArg(srtp.As<Napi::Object>().Get("encrypt").As<Napi::Object>());
    }
    shards_[it->second]->restore(it->first, std::move(report));
  }

  void release(const Napi::CallbackInfo& info) {
    auto it = sideShard_.find(sideArg(info[0]));
    if (closed_ || it == sideShard_.end()) return;
    // release(side, wait): wait only when the ports are bound again at once.
    shards_[it->second]->release(it->first, info.Length() > 1 && info[1].ToBoolean());
    sideShard_.erase(it);
  }

  // The asked sides grouped by shard, with their positions in the request, so each shard that holds any
  // of them gets one round trip (answered after its current batch).
  struct ByShard {
    std::vector<std::vector<SideId>> ids;
    std::vector<std::vector<uint32_t>> positions;
  };

  ByShard groupByShard(const Napi::Array& sides) {
    ByShard g{std::vector<std::vector<SideId>>(shards_.size()), std::vector<std::vector<uint32_t>>(shards_.size())};
    for (uint32_t i = 0; i < sides.Length(); i++) {
      auto it = sideShard_.find(sideArg(sides.Get(i)));
      if (closed_ || it == sideShard_.end()) continue;
      g.ids[it->second].push_back(it->first);
      g.positions[it->second].push_back(i);
    }
    return g;
  }

  // read(sides) -> array of SideState (null for a side not bound), in the order asked.
  Napi::Value read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array ids = info[0].As<Napi::Array>();
    Napi::Array out = Napi::Array::New(env, ids.Length());
    for (uint32_t i = 0; i < ids.Length(); i++) out.Set(i, env.Null());
    ByShard g = groupByShard(ids);
    for (size_t s = 0; s < shards_.size(); s++) {
      if (g.ids[s].empty()) continue;
      std::vector<SideReport> reports = shards_[s]->read(g.ids[s]);
      for (size_t k = 0; k < reports.size(); k++) {
        if (!reports[k].found) continue;
        Napi::Object state = Napi::Object::New(env);
        state.Set("rtp", streamObject(env, reports[k].rtp));
        state.Set("rtcp", streamObject(env, reports[k].rtcp));
        if (reports[k].hasSrtp) {
          Napi::Object srtp = Napi::Object::New(env);
          srtp.Set("decrypt", progressObject(env, reports[k].decrypt));
          srtp.Set("encrypt", progressObject(env, reports[k].encrypt));
          state.Set("srtp", srtp);
        }
        out.Set(g.positions[s][k], state);
      }
    }
    return out;
  }

  // lastPackets(sides) -> Float64Array of each side's last packet time (0 if none), in the order asked.
  Napi::Value lastPackets(const Napi::CallbackInfo& info) {
    Napi::Array ids = info[0].As<Napi::Array>();
    Napi::Float64Array out = Napi::Float64Array::New(info.Env(), ids.Length());
    ByShard g = groupByShard(ids);
    for (size_t s = 0; s < shards_.size(); s++) {
      if (g.ids[s].empty()) continue;
      std::vector<double> times = shards_[s]->lastPackets(g.ids[s]);
      for (size_t k = 0; k < times.size(); k++) out[g.positions[s][k]] = times[k];
    }
    return out;
  }

  Napi::Value counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Totals t = final_;
    if (!closed_)
      for (auto& shard : shards_) t.add(shard->totals());
    Napi::Object dropped = Napi::Object::New(env);
    for (size_t i = 0; i < kDropReasons; i++) dropped.Set(kDropNames[i], double(t.dropped[i]));
    Napi::Object o = Napi::Object::New(env);
    o.Set("packetsIn", double(t.packetsIn));
    o.Set("bytesIn", double(t.bytesIn));
    o.Set("packetsOut", double(t.packetsOut));
    o.Set("bytesOut", double(t.bytesOut));
    o.Set("dropped", dropped);
    return o;
  }

  void close(const Napi::CallbackInfo&) { stop(); }

  bool keysChecked_ = false;

  // Wakes the shards for the releases posted since (bind, configure and restore need no wake-up; the JS
  // side calls this a few milliseconds after a release, once for all of them).
  void flush(const Napi::CallbackInfo&) {
    if (closed_) return;
    for (auto& shard : shards_) shard->wake();
  }

  // Joins the threads and closes every socket; idempotent. Counters stay readable as they were.
  void stop() {
    if (closed_) return;
    closed_ = true;
    for (auto& shard : shards_) {
      final_.add(shard->totals());
      shard->stop();
    }
    shards_.clear();
    sideShard_.clear();
    learned_.Release();
    tap_.Release();
  }

  std::vector<std::unique_ptr<Shard>> shards_;
  std::unordered_map<SideId, uint32_t> sideShard_;
  LearnedFunction learned_;
  TapFunction tap_;
  Totals final_;
  bool closed_ = false;
};

}  // namespace
}  // namespace rtpbridge

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", rtpbridge::Engine::define(env));
  return exports;
}

NODE_API_MODULE(rtpbridge_native, init)
