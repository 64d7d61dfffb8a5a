// client_address.cpp: see client_address.hpp.
#include "client_address.hpp"

#include <algorithm>
#include <cctype>

namespace authflow::gateway {

namespace ip = boost::asio::ip;

namespace {

// trim drops the spaces and tabs HTTP allows around list elements.
std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool is_port(std::string_view text) {
  return !text.empty() && text.size() <= 5 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; }) &&
         std::stoul(std::string(text)) <= 65535;
}

// parse_hop reads one X-Forwarded-For element: an address, "[IPv6]", or either with ":port"
// (some proxies add the port); nullopt for anything else ("unknown", a name, garbage).
std::optional<ip::address> parse_hop(std::string_view hop) {
  std::string_view host = hop;
  if (!hop.empty() && hop.front() == '[') {
    auto close = hop.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    std::string_view rest = hop.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1))))
      return std::nullopt;
    host = hop.substr(1, close - 1);
  } else if (std::count(hop.begin(), hop.end(), ':') == 1) {
    auto colon = hop.find(':');
    if (!is_port(hop.substr(colon + 1)))
      return std::nullopt;
    host = hop.substr(0, colon);
  }
  boost::system::error_code error;
  auto address = ip::make_address(std::string(host), error);
  if (error)
    return std::nullopt;
  return plain_address(address);
}

} // namespace

// plain_address unwraps ::ffff:a.b.c.d and drops the zone, which SQL would refuse.
ip::address plain_address(const ip::address &address) {
  if (!address.is_v6())
    return address;
  ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped())
    return ip::make_address_v4(ip::v4_mapped, v6);
  return ip::address_v6(v6.to_bytes());
}

// parse takes each entry as a network ("a/n") or a single address (a /32 or /128 network).
std::optional<TrustedProxies> TrustedProxies::parse(const std::string &list) {
  TrustedProxies trusted;
  std::string entry;
  auto add = [&trusted](const std::string &text) {
    boost::system::error_code error;
    if (text.find('/') == std::string::npos) {
      auto address = ip::make_address(text, error);
      if (error)
        return false;
      address = plain_address(address);
      if (address.is_v4())
        trusted.v4_.emplace_back(address.to_v4(), 32);
      else
        trusted.v6_.emplace_back(address.to_v6(), 128);
      return true;
    }
    if (text.find(':') == std::string::npos) {
      auto network = ip::make_network_v4(text, error);
      if (!error)
        trusted.v4_.push_back(network.canonical());
    } else {
      auto network = ip::make_network_v6(text, error);
      if (!error)
        trusted.v6_.push_back(network.canonical());
    }
    return !error;
  };
  for (char c : list + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!entry.empty() && !add(entry))
        return std::nullopt;
      entry.clear();
    } else {
      entry += c;
    }
  }
  return trusted;
}

// contains compares the address's network of each prefix length with the network.
bool TrustedProxies::contains(const ip::address &given) const {
  const ip::address address = plain_address(given);
  if (address.is_v4()) {
    return std::any_of(v4_.begin(), v4_.end(), [&](const ip::network_v4 &network) {
      return ip::network_v4(address.to_v4(), network.prefix_length()).canonical() == network;
    });
  }
  return std::any_of(v6_.begin(), v6_.end(), [&](const ip::network_v6 &network) {
    return ip::network_v6(address.to_v6(), network.prefix_length()).canonical() == network;
  });
}

// client_address walks X-Forwarded-For from the right, past the trusted proxies.
std::string client_address(const Request &request, const std::optional<ip::address> &peer,
                           const TrustedProxies &trusted) {
  if (!peer)
    return "";
  const ip::address direct = plain_address(*peer);
  if (!trusted.contains(direct))
    return direct.to_string();
  // Repeated X-Forwarded-For fields are one list, in the order they arrived.
  std::vector<std::string_view> hops;
  for (const auto &field : request) {
    if (!boost::beast::iequals(field.name_string(), "x-forwarded-for"))
      continue;
    std::string_view value = field.value();
    for (std::size_t start = 0; start <= value.size();) {
      auto comma = std::min(value.find(',', start), value.size());
      hops.push_back(trim(value.substr(start, comma - start)));
      start = comma + 1;
    }
  }
  std::optional<ip::address> client;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    auto address = parse_hop(*hop);
    if (!address)
      return direct.to_string();
    client = address;
    if (!trusted.contains(*address))
      break;
  }
  // Every hop trusted: the left-most is as far as the chain goes.
  return (client ? *client : direct).to_string();
}

} // namespace authflow::gateway
