// shutdown_test.cpp: SIGTERM and SIGINT stop accepting, answer what was sent (a full database
// pipeline included), and exit 0.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <memory>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using std::chrono::seconds;

// lock_key is an advisory lock key of this test process alone.
long long lock_key() { return static_cast<long long>(::getpid()) * 100 + 50; }

TEST(Shutdown, SigtermDrainsAFullPipelineThenExitsZero) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2", "--request-timeout", "30s"});
  const int in_flight = 8;
  HeldLock lock(lock_key());
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < in_flight; ++i)
    clients.push_back(std::make_unique<HttpClient>(gateway.port(), seconds(60)));
  HttpClient idle(gateway.port());
  ASSERT_EQ(idle.get("/healthz").result_int(), 200);

  for (int i = 0; i < in_flight; ++i)
    clients[i]->write(
        make_request(http::verb::get, "/wait-lock?key=" + std::to_string(lock_key()) + "&i=" + std::to_string(i)));
  // Every request is in a database pipeline, waiting behind the lock.
  ASSERT_TRUE(wait_for_metric(gateway.port(), "authflow_gateway_pool_requests_in_flight", in_flight, seconds(30)));

  gateway.send_signal(SIGTERM);
  EXPECT_TRUE(idle.closed_by_server(seconds(10))) << "an idle keep-alive connection is closed at once";
  lock.release();
  for (int i = 0; i < in_flight; ++i) {
    auto response = clients[i]->read_response();
    EXPECT_EQ(response.result_int(), 201);
    EXPECT_EQ(nlohmann::json::parse(response.body())["target"],
              "/wait-lock?key=" + std::to_string(lock_key()) + "&i=" + std::to_string(i));
    EXPECT_FALSE(response.keep_alive()) << "a draining gateway closes after the answer";
  }
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
