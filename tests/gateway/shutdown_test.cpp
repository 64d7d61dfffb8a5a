// shutdown_test.cpp: SIGTERM and SIGINT stop accepting, answer what was sent, and exit 0.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <memory>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using std::chrono::seconds;

// wait_for_metric polls /metrics (bounded) until the series reaches the value.
bool wait_for_metric(unsigned short port, const std::string &series, double value, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric_value(port, series) >= value)
      return true;
  }
  return false;
}

TEST(Shutdown, SigtermAnswersEveryRequestInFlightThenExitsZero) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2"});
  const int in_flight = 6;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < in_flight; ++i)
    clients.push_back(std::make_unique<HttpClient>(gateway.port()));
  HttpClient idle(gateway.port());
  ASSERT_EQ(idle.get("/healthz").result_int(), 200);

  for (auto &client : clients)
    client->write(make_request(http::verb::get, "/slow?seconds=0.5"));
  // Both connections busy and the rest queued: the requests are inside the gateway.
  ASSERT_TRUE(wait_for_metric(gateway.port(), "authflow_gateway_pool_connections_in_use", 2, seconds(20)));
  ASSERT_TRUE(wait_for_metric(gateway.port(), "authflow_gateway_pool_waiting_requests", in_flight - 2, seconds(20)));

  gateway.send_signal(SIGTERM);
  for (auto &client : clients) {
    auto response = client->read_response();
    EXPECT_EQ(response.result_int(), 201);
    EXPECT_FALSE(response.keep_alive()) << "a draining gateway closes after the answer";
  }
  EXPECT_TRUE(idle.closed_by_server(seconds(10))) << "an idle keep-alive connection is closed at once";
  EXPECT_EQ(gateway.wait_exit(seconds(30)), 0);
  EXPECT_THROW(HttpClient{gateway.port()}, std::runtime_error) << "nothing listens any more";
}

TEST(Shutdown, SigtermAnswersARequestSentBeforeIt) {
  GatewayProcess gateway({"--http-function", test_function()});
  HttpClient client(gateway.port());
  ASSERT_EQ(client.get("/healthz").result_int(), 200);
  // The keep-alive connection is idle in the gateway; the next request is sent, then the signal.
  client.write(make_request(http::verb::get, "/echo"));
  gateway.send_signal(SIGTERM);
  auto response = client.read_response();
  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(gateway.wait_exit(seconds(30)), 0);
}

TEST(Shutdown, SigintExitsZero) {
  GatewayProcess gateway({});
  ASSERT_EQ(get_once(gateway.port(), "/healthz").result_int(), 200);
  gateway.send_signal(SIGINT);
  EXPECT_EQ(gateway.wait_exit(seconds(30)), 0);
}

} // namespace
} // namespace authflow::testing
