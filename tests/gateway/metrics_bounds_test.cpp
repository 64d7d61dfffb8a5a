// metrics_bounds_test.cpp: /metrics stays small whatever requests arrive and whatever route labels
// the SQL side names; over real sockets, against the real binary.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <sstream>

namespace authflow::testing {
namespace {

// odd_method is a valid HTTP method token of the given length, different on every call.
std::string odd_method(std::mt19937 &random, std::size_t length) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string method;
  for (std::size_t i = 0; i < length; ++i)
    method += alphabet[pick(random)];
  return method;
}

// route_labels reads every distinct route label of a /metrics page.
std::set<std::string> route_labels(const std::string &metrics) {
  std::set<std::string> labels;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    auto start = line.find("{route=\"");
    if (start == std::string::npos)
      continue;
    start += 8;
    auto end = start;
    while (end < line.size() && !(line[end] == '"' && line[end - 1] != '\\'))
      ++end;
    labels.insert(line.substr(start, end - start));
  }
  return labels;
}

// send_odd_requests sends count requests with random methods (1 to longest bytes) to a path.
void send_odd_requests(unsigned short port, std::mt19937 &random, int count, const std::string &path,
                       std::size_t longest = 3000) {
  std::uniform_int_distribution<std::size_t> length(1, longest);
  for (int i = 0; i < count; ++i) {
    HttpClient client(port);
    client.write_raw(odd_method(random, length(random)) + " " + path +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    auto response = client.read_response();
    ASSERT_LT(response.result_int(), 500) << path;
  }
}

// The test function names its route after the raw method: the worst the SQL side could send.
TEST(MetricsBounds, LabelsFromSqlAreBoundedInNumberAndLength) {
  GatewayProcess gateway({"--http-function", test_function()});
  std::mt19937 random(7);
  send_odd_requests(gateway.port(), random, 100, "/echo", 40); // short ones: each could be kept
  send_odd_requests(gateway.port(), random, 100, "/echo");
  get_once(gateway.port(), "/metrics");
  const std::string first = get_once(gateway.port(), "/metrics").body();
  auto labels = route_labels(first);
  EXPECT_LE(labels.size(), 32u + 5u) << "at most 32 routes, plus the gateway's own and other";
  EXPECT_TRUE(labels.count("other")) << "the overflow is counted under other";
  for (const auto &label : labels)
    EXPECT_LE(label.size(), 64u) << label.substr(0, 80);
  EXPECT_LT(first.size(), 80u * 1024u) << "the metrics page stays small";

  send_odd_requests(gateway.port(), random, 200, "/echo");
  const std::string second = get_once(gateway.port(), "/metrics").body();
  EXPECT_EQ(route_labels(second), labels) << "more odd requests add no series";
  EXPECT_LE(second.size(), first.size() + 256u) << "only counter values changed";
}

} // namespace
} // namespace authflow::testing
