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

// format_line keeps a fixed key order and escapes through the JSON library.
std::string AccessLog::format_line(const AccessRecord &record) {
  nlohmann::ordered_json line;
  line["time"] = format_time(record.time);
  line["method"] = record.method;
  line["route"] = record.route;
  line["status"] = record.status;
  line["duration_ms"] = std::round(record.duration_ms * 1000.0) / 1000.0;
  if (record.tenant.empty()) {
    line["tenant"] = nullptr;
  } else {
    line["tenant"] = record.tenant;
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
