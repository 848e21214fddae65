// Opening a side's RTP/RTCP sockets; done on the calling thread so a bind error is known at once.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rtpbridge {

// The local address itself is unusable (not configured on the host, wrong family, not an IP literal).
struct InterfaceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SocketPair {
  int rtp = -1;
  int rtcp = -1;
};

// Binds `rtpPort` and `rtpPort + 1` on `local`. Returns false when either port is taken (both closed
// again); throws InterfaceError when the address cannot be bound at all.
bool bindPair(const std::string& local, int family, uint32_t rtpPort, SocketPair& out);

}  // namespace rtpbridge
