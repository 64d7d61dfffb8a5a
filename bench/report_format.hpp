// report_format.hpp: how the report writes numbers and targets (report.cpp, http_report.cpp).
#pragma once

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "results.hpp"

namespace authflow::bench {

inline std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// count groups thousands: 12,345.
inline std::string count(double value) {
  std::string digits = fixed(value, 0), grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-')
      grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

inline std::string micros(double value) { return value >= 100 ? fixed(value, 0) : fixed(value, 1); }
inline std::string ratio(double a, double b) { return b > 0 ? fixed(a / b, 2) + "×" : "—"; }
inline std::string verdict(bool met) { return met ? "met" : "**missed**"; }

// Target is one line of the targets list: met or missed, by how much, and why when missed.
struct Target {
  std::string what;
  bool met;
  std::string detail;
  std::string why; // when missed
};

inline unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

inline std::string sharing() {
  return "the clients, PostgreSQL and redis-server share " + std::to_string(cores()) +
         " cores here, so CPU per operation, not round trips, is the likely limit";
}

// render_http writes the HTTP section and adds its targets (http_report.cpp).
void render_http(std::ostringstream &out, const Results &results, std::vector<Target> &targets);

} // namespace authflow::bench
