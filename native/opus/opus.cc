// libopus for the TypeScript packet path: one encoder or decoder per transcoded stream, called per
// packet from the worker thread that owns the stream. A separate addon from the forwarding engine so
// that a machine without libopus still builds the engine (Opus is then not offered).
#include <napi.h>
#include <opus.h>

#include <string>

namespace rtpbridge {
namespace {

// RFC 6716: at most 120 ms per packet; at 48 kHz that is 5,760 samples per channel.
constexpr int kMaxFrameSamples = 5760;
// RFC 6716 bounds an Opus frame at 1,275 bytes, a packet of several frames a little above 1,500.
constexpr int kMaxPacketBytes = 1500;

Napi::Error opusError(Napi::Env env, const char* what, int code) {
  Napi::Error err = Napi::Error::New(env, std::string(what) + ": " + opus_strerror(code));
  err.Set("code", Napi::String::New(env, "OPUS_FAILED"));
  return err;
}

int rateArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "sample rate expected");
  return info[0].As<Napi::Number>().Int32Value();
}

// new OpusEncoder(sampleRate, bitrate, complexity): mono VoIP; encode(Int16Array of one frame) -> Buffer.
class Encoder : public Napi::ObjectWrap<Encoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OpusEncoder", {InstanceMethod("encode", &Encoder::Encode)});
  }

  explicit Encoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Encoder>(info) {
    int err = OPUS_OK;
    state_ = opus_encoder_create(rateArg(info), 1, OPUS_APPLICATION_VOIP, &err);
    if (err != OPUS_OK) throw opusError(info.Env(), "opus_encoder_create", err);
    if (info.Length() > 1 && info[1].IsNumber()) opus_encoder_ctl(state_, OPUS_SET_BITRATE(info[1].As<Napi::Number>().Int32Value()));
    if (info.Length() > 2 && info[2].IsNumber()) opus_encoder_ctl(state_, OPUS_SET_COMPLEXITY(info[2].As<Napi::Number>().Int32Value()));
  }

  ~Encoder() override { opus_encoder_destroy(state_); }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "Int16Array expected");
    Napi::Int16Array pcm = info[0].As<Napi::Int16Array>();
    unsigned char out[kMaxPacketBytes];
    // The frame size must be one Opus allows (2.5 to 60 ms); libopus checks it and says so.
    int n = opus_encode(state_, pcm.Data(), int(pcm.ElementLength()), out, kMaxPacketBytes);
    if (n < 0) throw opusError(env, "opus_encode", n);
    return Napi::Buffer<uint8_t>::Copy(env, out, size_t(n));
  }

  OpusEncoder* state_ = nullptr;
};

// new OpusDecoder(sampleRate): mono output; decode(payload) -> Int16Array, or null for a corrupt packet;
// valid(payload) -> whether it is a well-formed Opus packet.
class Decoder : public Napi::ObjectWrap<Decoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OpusDecoder", {InstanceMethod("decode", &Decoder::Decode), InstanceMethod("valid", &Decoder::Valid)});
  }

  explicit Decoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Decoder>(info) {
    int err = OPUS_OK;
    state_ = opus_decoder_create(rateArg(info), 1, &err);
    if (err != OPUS_OK) throw opusError(info.Env(), "opus_decoder_create", err);
  }

  ~Decoder() override { opus_decoder_destroy(state_); }

 private:
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "Uint8Array expected");
    Napi::Uint8Array payload = info[0].As<Napi::Uint8Array>();
    // libopus reads an empty packet as a lost one; on the wire it is a broken one.
    if (payload.ElementLength() == 0) return env.Null();
    opus_int16 pcm[kMaxFrameSamples];
    int n = opus_decode(state_, payload.Data(), int(payload.ElementLength()), pcm, kMaxFrameSamples, 0);
    // A corrupt packet is the sender's fault, not the relay's: null, and the caller counts it.
    if (n < 0) return env.Null();
    Napi::Int16Array out = Napi::Int16Array::New(env, size_t(n));
    std::copy(pcm, pcm + n, out.Data());
    return out;
  }

  // Whether a payload is a well-formed Opus packet (RFC 6716 section 3), read without decoding it: for
  // packets held back to be decoded in order, which must not turn out unreadable later, uncounted.
  Napi::Value Valid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "Uint8Array expected");
    Napi::Uint8Array payload = info[0].As<Napi::Uint8Array>();
    const unsigned char* frames[48];
    opus_int16 sizes[48];
    bool ok = payload.ElementLength() > 0 && opus_packet_parse(payload.Data(), opus_int32(payload.ElementLength()), nullptr, frames, sizes, nullptr) > 0;
    return Napi::Boolean::New(env, ok);
  }

  OpusDecoder* state_ = nullptr;
};

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("OpusEncoder", Encoder::Define(env));
  exports.Set("OpusDecoder", Decoder::Define(env));
  exports.Set("version", Napi::String::New(env, opus_get_version_string()));
  return exports;
}

}  // namespace
}  // namespace rtpbridge

static Napi::Object initOpus(Napi::Env env, Napi::Object exports) { return rtpbridge::init(env, exports); }

NODE_API_MODULE(rtpbridge_opus, initOpus)
