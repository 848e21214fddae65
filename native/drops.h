// Why a received packet was not forwarded. The names are src/shared/vocabulary.ts's DROP_REASONS in the
// same order (test/drop-reasons.test.ts reads this file and the running addon and compares them).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtpbridge {

#define RTPBRIDGE_DROP_REASONS(X) \
  X(malformed)                    \
  X(unknownSource)                \
  X(noDestination)                \
  X(sendError)                    \
  X(srtp)                         \
  X(stun)                         \
  X(dtls)                         \
  X(rateLimited)                  \
  X(dtmfBlocked)                  \
  X(undecodable)

enum class Drop : uint8_t {
#define RTPBRIDGE_DROP_ENUM(name) name,
  RTPBRIDGE_DROP_REASONS(RTPBRIDGE_DROP_ENUM)
#undef RTPBRIDGE_DROP_ENUM
};

constexpr const char* kDropNames[] = {
#define RTPBRIDGE_DROP_NAME(name) #name,
    RTPBRIDGE_DROP_REASONS(RTPBRIDGE_DROP_NAME)
#undef RTPBRIDGE_DROP_NAME
};

constexpr size_t kDropReasons = sizeof kDropNames / sizeof kDropNames[0];

}  // namespace rtpbridge
