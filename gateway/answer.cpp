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

namespace {

// HeaderReader collects the SQL side's headers object as it is parsed (nlohmann's SAX interface:
// no DOM is built for it): name -> a string, an array of strings, or a number (written as its
// JSON text). Anything else breaks the contract.
class HeaderReader {
public:
  using json = nlohmann::json;

  std::vector<std::pair<std::string, std::vector<std::string>>> fields; // in arrival order
  bool is_null = false;

  bool null() {
    if (depth_ != 0)
      return false;
    is_null = true;
    return true;
  }
  bool boolean(bool) { return false; }
  bool number_integer(json::number_integer_t value) { return scalar(std::to_string(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return scalar(std::to_string(value)); }
  bool number_float(json::number_float_t value, const json::string_t &) { return scalar(json(value).dump()); }
  bool string(json::string_t &value) {
    if (depth_ == 2)
      return append(std::move(value));
    return scalar(std::move(value));
  }
  bool binary(json::binary_t &) { return false; }
  bool start_object(std::size_t) { return depth_++ == 0; }
  bool key(json::string_t &name) {
    fields.emplace_back(std::move(name), std::vector<std::string>());
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) { return depth_++ == 1; }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string &, const nlohmann::detail::exception &) { return false; }

private:
  // scalar is a field's value given directly (depth 1), not as an array item.
  bool scalar(std::string value) {
    if (depth_ != 1)
      return false;
    return append(std::move(value));
  }
  bool append(std::string value) {
    fields.back().second.push_back(std::move(value));
    return true;
  }
  int depth_ = 0;
};

} // namespace

// answer_from_sql validates the row before anything of it reaches the client. Fields are taken
// in the order of their names, a repeated name's last value winning (as a JSON object reads).
std::optional<HttpAnswer> answer_from_sql(int status, const std::string &headers_json, const std::string &body) {
  if (status < 100 || status > 599)
    return std::nullopt;
  HttpAnswer answer;
  answer.status = status;
  answer.body = body;
  HeaderReader reader;
  if (!nlohmann::json::sax_parse(headers_json, &reader))
    return std::nullopt;
  if (reader.is_null)
    return answer; // SQL NULL headers, or JSON null: no headers
  auto &fields = reader.fields;
  std::stable_sort(fields.begin(), fields.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i + 1 < fields.size() && fields[i + 1].first == fields[i].first)
      continue; // a later value of the same name wins
    std::string name = lowercase(fields[i].first);
    auto &values = fields[i].second;
    if (!is_header_name(name))
      return std::nullopt;
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
