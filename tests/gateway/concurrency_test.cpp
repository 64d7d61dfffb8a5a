// concurrency_test.cpp: 1,000 keep-alive connections open at once, every request answered.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <memory>

namespace authflow::testing {
namespace {

namespace net = boost::asio;

constexpr int connection_count = 1000;
constexpr int requests_per_connection = 3;

TEST(Concurrency, ThousandKeepAliveConnectionsAreAllAnswered) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, static_cast<rlim_t>(connection_count + 100)) << "too few file descriptors";

  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "4", "--io-threads", "2"});
  net::io_context io;
  std::vector<std::shared_ptr<KeepAliveClient>> connections;
  std::vector<int> answers(connection_count, 0);
  int connected = 0;
  int settled = 0;
  for (int i = 0; i < connection_count; ++i) {
    connections.push_back(std::make_shared<KeepAliveClient>(io));
    connections.back()->connect(gateway.port(), [&](bool ok) {
      connected += ok ? 1 : 0;
      // Requests start only once every connection is open: they are all held at the same time.
      if (++settled < connection_count)
        return;
      for (int c = 0; c < connection_count; ++c) {
        connections[c]->send(
            requests_per_connection, [c](int r) { return "/echo?c=" + std::to_string(c) + "&r=" + std::to_string(r); },
            [&answers, c](int, const Response &response) {
              if (response.result_int() == 201 && response.keep_alive())
                ++answers[c];
            });
      }
    });
  }
  io.run_for(std::chrono::seconds(120));

  EXPECT_EQ(connected, connection_count);
  int answered = 0;
  int starved = 0;
  for (int count : answers) {
    answered += count;
    if (count < requests_per_connection)
      ++starved;
  }
  EXPECT_EQ(answered, connection_count * requests_per_connection);
  EXPECT_EQ(starved, 0);
  EXPECT_EQ(metric_value(gateway.port(), "authflow_gateway_pool_waiting_requests"), 0);
}

} // namespace
} // namespace authflow::testing
