// Socket addresses as the packet path stores, compares and sends to them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace rtpbridge {

// Big enough for either family without the 128 bytes of sockaddr_storage: copied once per forwarded packet.
union SockAddr {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

struct Address {
  SockAddr sa{};

  int family() const { return sa.any.sa_family; }
  bool usable() const { return family() == AF_INET || family() == AF_INET6; }
  socklen_t length() const { return family() == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6); }
  uint16_t port() const { return ntohs(family() == AF_INET ? sa.v4.sin_port : sa.v6.sin6_port); }
};

bool sameHost(const Address& a, const Address& b);
bool sameEndpoint(const Address& a, const Address& b);

// An IP literal (v4 or v6) and port; false when `host` is not one.
bool parseAddress(const std::string& host, uint16_t port, Address& out);
std::string formatHost(const Address& a);

}  // namespace rtpbridge
