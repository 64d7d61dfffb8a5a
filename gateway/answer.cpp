// answer.cpp: see answer.hpp.
#include "answer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace authflow::gateway {
namespace {

// lowercase returns an ASCII-lowercased copy.
std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// is_managed_header names the headers the gateway sets itself from the body and the connection.
bool is_managed_header(const std::string &lowercase_name) {
  return lowercase_name == "content-length" || lowercase_name == "transfer-encoding" ||
         lowercase_name == "connection" || lowercase_name == "keep-alive" || lowercase_name == "upgrade";
}

} // namespace

// error_answer builds the one JSON error shape the gateway uses.
HttpAnswer error_answer(int status, const std::string &code, const std::string &message) {
  HttpAnswer answer;
  answer.status = status;
  answer.headers = {{"content-type", "application/json"}, {known_error_header, code}};
  if (status == 503)
    answer.headers.emplace_back("retry-after", "1");
  answer.body = nlohmann::json{{"code", code}, {"error", message}}.dump();
  return answer;
}

// is_header_name accepts the RFC 9110 token characters.
bool is_header_name(const std::string &name) {
  if (name.empty())
    return false;
  static const char *const extra = "!#$%&'*+-.^_`|~";
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || (c != 0 && std::strchr(extra, c) != nullptr); });
}

// is_header_value allows visible text, spaces, tabs and non-ASCII bytes.
bool is_header_value(const std::string &value) {
  return std::all_of(value.begin(), value.end(), [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });
}

// answer_from_sql validates the row before anything of it reaches the client.
std::optional<HttpAnswer> answer_from_sql(int status, const std::string &headers_json, const std::string &body) {
  if (status < 100 || status > 599)
    return std::nullopt;
  HttpAnswer answer;
  answer.status = status;
  answer.body = body;
  auto headers = nlohmann::json::parse(headers_json, nullptr, false);
  if (headers.is_null())
    return answer; // SQL NULL headers, or JSON null: no headers
  if (!headers.is_object())
    return std::nullopt;
  for (const auto &[raw_name, value] : headers.items()) {
    std::string name = lowercase(raw_name);
    if (!is_header_name(name))
      return std::nullopt;
    std::vector<std::string> values;
    if (value.is_string()) {
      values.push_back(value.get<std::string>());
    } else if (value.is_array()) {
      for (const auto &item : value) {
        if (!item.is_string())
          return std::nullopt;
        values.push_back(item.get<std::string>());
      }
    } else if (value.is_number()) {
      values.push_back(value.dump());
    } else {
      return std::nullopt;
    }
    for (const auto &text : values) {
      if (!is_header_value(text))
        return std::nullopt;
    }
    if (name == route_header) {
      if (!values.empty())
        answer.route = values.front();
      continue;
    }
    if (name == tenant_header) {
      if (!values.empty())
        answer.tenant = values.front().substr(0, 128);
      continue;
    }
    if (is_managed_header(name))
      continue;
    for (auto &text : values)
      answer.headers.emplace_back(name, std::move(text));
  }
  return answer;
}

} // namespace authflow::gateway
