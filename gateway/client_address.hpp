// client_address.hpp: the address of the client a request comes from. It is the connection's
// peer, unless the peer is a trusted proxy (a reverse proxy or load balancer in front of the
// gateway): then it is the right-most address of X-Forwarded-For that is not itself a trusted
// proxy (each proxy appends the address it saw, so everything left of the last untrusted hop may
// have been written by the client and is never believed).
#pragma once

#include "request.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <optional>
#include <string>
#include <vector>

namespace authflow::gateway {

class TrustedProxies {
public:
  // parse reads a list of addresses and CIDR networks, separated by commas and/or spaces
  // ("10.0.0.0/8, 192.168.1.7 ::1 fd00::/8"); an empty list trusts nobody. nullopt when an
  // entry is neither.
  static std::optional<TrustedProxies> parse(const std::string &list);

  // contains tells whether an address (IPv4-mapped IPv6 taken as IPv4) is one of the networks.
  bool contains(const boost::asio::ip::address &address) const;

  bool empty() const { return v4_.empty() && v6_.empty(); }

private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// plain_address is an address as SQL is told it: an IPv4-mapped IPv6 address as IPv4, without
// an IPv6 zone (scope id).
boost::asio::ip::address plain_address(const boost::asio::ip::address &address);

// client_address is the client's address of a request that arrived from `peer` (empty when the
// peer is unknown): the peer, or, when the peer is trusted, what X-Forwarded-For says by the
// rule above. A header that cannot be read (an entry that is no address, up to the client's)
// leaves the peer's address: a proxy's mistake never fails a request.
std::string client_address(const Request &request, const std::optional<boost::asio::ip::address> &peer,
                           const TrustedProxies &trusted);

} // namespace authflow::gateway
