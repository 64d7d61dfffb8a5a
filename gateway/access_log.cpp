// access_log.cpp: see access_log.hpp.
#include "access_log.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace authflow::gateway {

// format_time uses gmtime_r: the log is always in UTC.
std::string format_time(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  gmtime_r(&whole, &parts);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  return text;
}

namespace {

// append_json_string appends a string as JSON through the library (bytes that are not UTF-8
// become U+FFFD).
void append_json_string(std::string &out, const std::string &value) {
  out += nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

// format_line keeps a fixed key order; the values are written by the JSON library, the object
// around them by hand (a JSON object per line cost more than the rest of the line).
std::string AccessLog::format_line(const AccessRecord &record) {
  std::string line;
  line.reserve(160 + record.route.size() + record.tenant.size());
  line += "{\"time\":\"";
  line += format_time(record.time);
  line += "\",\"method\":";
  append_json_string(line, record.method);
  line += ",\"route\":";
  append_json_string(line, record.route);
  line += ",\"status\":";
  line += std::to_string(record.status);
  line += ",\"duration_ms\":";
  line += nlohmann::json(std::round(record.duration_ms * 1000.0) / 1000.0).dump();
  line += ",\"tenant\":";
  if (record.tenant.empty()) {
    line += "null";
  } else {
    append_json_string(line, record.tenant);
  }
  line += '}';
  return line;
}

namespace {
thread_local std::string buffered;
} // namespace

bool AccessLog::append(const AccessRecord &record) {
  const bool was_empty = buffered.empty();
  buffered += format_line(record);
  buffered += '\n';
  return was_empty;
}

void AccessLog::flush() {
  if (buffered.empty())
    return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fwrite(buffered.data(), 1, buffered.size(), stdout);
    std::fflush(stdout);
  }
  buffered.clear();
}

void AccessLog::write(const AccessRecord &record) {
  append(record);
  flush();
}

} // namespace authflow::gateway
