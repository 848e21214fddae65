#include "address.h"

#include <arpa/inet.h>

#include <cstring>

namespace rtpbridge {

bool sameHost(const Address& a, const Address& b) {
  if (a.family() != b.family()) return false;
  if (a.family() == AF_INET) return a.sa.v4.sin_addr.s_addr == b.sa.v4.sin_addr.s_addr;
  if (a.family() == AF_INET6) return std::memcmp(&a.sa.v6.sin6_addr, &b.sa.v6.sin6_addr, sizeof(in6_addr)) == 0;
  return false;
}

bool sameEndpoint(const Address& a, const Address& b) { return sameHost(a, b) && a.port() == b.port(); }

bool parseAddress(const std::string& host, uint16_t port, Address& out) {
  out = Address{};
  if (inet_pton(AF_INET, host.c_str(), &out.sa.v4.sin_addr) == 1) {
    out.sa.v4.sin_family = AF_INET;
    out.sa.v4.sin_port = htons(port);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &out.sa.v6.sin6_addr) == 1) {
    out.sa.v6.sin6_family = AF_INET6;
    out.sa.v6.sin6_port = htons(port);
    return true;
  }
  return false;
}

std::string formatHost(const Address& a) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.family() == AF_INET) inet_ntop(AF_INET, &a.sa.v4.sin_addr, text, sizeof text);
  if (a.family() == AF_INET6) inet_ntop(AF_INET6, &a.sa.v6.sin6_addr, text, sizeof text);
  return text;
}

}  // namespace rtpbridge
