// access_log.hpp: one JSON line per answered request, on standard output.
// Only the route template is logged: never the raw path, query string, headers or body.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace authflow::gateway {

struct AccessRecord {
  std::chrono::system_clock::time_point time;
  std::string method;
  std::string route;
  int status = 0;
  double duration_ms = 0;
  std::string tenant; // as SQL named it (x-authflow-tenant); empty for the gateway's own answers
};

class AccessLog {
public:
  // append adds the record's line to the calling thread's buffer; true when the buffer was empty,
  // and the caller must then have flush() run on this thread soon (Session posts it behind the
  // handlers already due, so one write carries the lines of a whole round of them).
  bool append(const AccessRecord &record);

  // flush writes the calling thread's buffered lines with one write and flushes, under a lock,
  // so that lines from threads never mix.
  void flush();

  // write is append and flush at once.
  void write(const AccessRecord &record);

  // format_line renders a record without the newline.
  static std::string format_line(const AccessRecord &record);

private:
  std::mutex mutex_;
};

// format_time renders a UTC time as RFC 3339 with milliseconds: 2024-05-01T12:00:00.123Z.
std::string format_time(std::chrono::system_clock::time_point time);

} // namespace authflow::gateway
