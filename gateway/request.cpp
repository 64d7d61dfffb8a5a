// request.cpp: see request.hpp.
#include "request.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>

namespace authflow::gateway {

// headers_json joins repeated headers in the order they arrived.
std::string headers_json(const Request &request, const std::string &client_address) {
  std::map<std::string, std::string> joined;
  for (const auto &field : request) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value(field.value());
    auto found = joined.find(name);
    if (found == joined.end()) {
      joined.emplace(std::move(name), std::move(value));
    } else {
      found->second += name == "cookie" ? "; " : ", ";
      found->second += value;
    }
  }
  nlohmann::json object = nlohmann::json::object();
  for (auto &[name, value] : joined)
    object[name] = std::move(value);
  object[client_address_header] = client_address;
  // Bytes that are not UTF-8 (obs-text) become U+FFFD rather than failing the request.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// path_of cuts at the first '?'.
std::string path_of(const std::string &target) { return target.substr(0, target.find('?')); }

// is_valid_utf8 follows RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const std::string &text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0)
      return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned min_second = 0x80, max_second = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0)
        min_second = 0xA0;
      if (c == 0xED)
        max_second = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0)
        min_second = 0x90;
      if (c == 0xF4)
        max_second = 0x8F;
    } else {
      return false;
    }
    if (i + length > n)
      return false;
    auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < min_second || second > max_second)
      return false;
    for (std::size_t k = 2; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xBF)
        return false;
    }
    i += length;
  }
  return true;
}

} // namespace authflow::gateway
