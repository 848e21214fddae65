#include "sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "address.h"

namespace rtpbridge {

// Rides out a scheduling hiccup of the forwarding thread at full batch rates; the kernel caps it at
// net.core.rmem_max / wmem_max, and memory is only used while packets actually wait.
constexpr int kSocketBuffer = 2 * 1024 * 1024;

// -1 with errno set when the socket cannot be opened or bound.
static int openBound(const Address& local) {
  int fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int on = 1;
  // Dual-stack sockets would report v4 sources as ::ffff: addresses; an IP6 side is IPv6 only.
  if (local.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  if (bind(fd, &local.sa.any, local.length()) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

static bool portTaken(int err) { return err == EADDRINUSE || err == EACCES; }

bool bindPair(const std::string& local, int family, uint32_t rtpPort, SocketPair& out) {
  if (rtpPort == 0 || rtpPort > 65534) throw InterfaceError("no RTP/RTCP port pair at " + std::to_string(rtpPort));
  Address rtp, rtcp;
  if (!parseAddress(local, uint16_t(rtpPort), rtp) || rtp.family() != family)
    throw InterfaceError("cannot bind media port on " + local + ": not an address of the wanted family");
  parseAddress(local, uint16_t(rtpPort + 1), rtcp);

  out.rtp = openBound(rtp);
  if (out.rtp < 0) {
    if (portTaken(errno)) return false;
    throw InterfaceError("cannot bind media port on " + local + ": " + std::strerror(errno));
  }
  out.rtcp = openBound(rtcp);
  if (out.rtcp < 0) {
    int err = errno;
    close(out.rtp);
    out.rtp = -1;
    if (portTaken(err)) return false;
    throw InterfaceError("cannot bind media port on " + local + ": " + std::strerror(err));
  }
  return true;
}

}  // namespace rtpbridge
