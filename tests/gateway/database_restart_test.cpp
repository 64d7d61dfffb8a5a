// database_restart_test.cpp: the database goes away while the gateway runs: 503 meanwhile, and
// the pool recovers on its own. These tests stop the shared test cluster: ctest runs them alone.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace authflow::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// ClusterRestarter starts the cluster again however the test ends.
struct ClusterRestarter {
  // ~ClusterRestarter runs "scripts/cluster start" (harmless when it runs already).
  ~ClusterRestarter() { cluster_command("start"); }
};

// wait_until_ok polls (bounded) until target answers with the expected status.
bool wait_until_ok(unsigned short port, const std::string &target, int expected, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (static_cast<int>(get_once(port, target).result_int()) == expected)
        return true;
    } catch (const std::exception &) {
    }
  }
  return false;
}

TEST(DatabaseRestart, StoppedDatabaseGives503AndThePoolRecovers) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2"});
  ASSERT_EQ(get_once(gateway.port(), "/echo").result_int(), 201);
  ASSERT_EQ(get_once(gateway.port(), "/echo").result_int(), 201);

  ClusterRestarter restarter;
  ASSERT_EQ(cluster_command("stop"), 0);
  auto response = get_once(gateway.port(), "/echo");
  EXPECT_EQ(response.result_int(), 503);
  EXPECT_EQ(response["x-known-error"], "DATABASE_UNAVAILABLE");
  EXPECT_EQ(json::parse(response.body()), json({{"code", "DATABASE_UNAVAILABLE"}, {"error", "database unavailable"}}));
  EXPECT_EQ(get_once(gateway.port(), "/readyz").result_int(), 503);
  EXPECT_EQ(get_once(gateway.port(), "/healthz").result_int(), 200) << "liveness does not depend on the database";
  EXPECT_GE(metric_value(gateway.port(), "authflow_gateway_database_errors_total{kind=\"connection\"}"), 2);

  ASSERT_EQ(cluster_command("start"), 0);
  EXPECT_TRUE(wait_until_ok(gateway.port(), "/readyz", 200, seconds(30)));
  // Every pooled connection serves again.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(get_once(gateway.port(), "/echo").result_int(), 201);
}

TEST(DatabaseRestart, RestartUnderLoadAnswers503OrSuccessThenRecovers) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "3"});
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(get_once(gateway.port(), "/echo").result_int(), 201);

  ClusterRestarter restarter;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<int, int> statuses;
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&] {
      auto deadline = std::chrono::steady_clock::now() + seconds(90);
      while (!stop && std::chrono::steady_clock::now() < deadline) {
        int status = -1;
        try {
          status = get_once(gateway.port(), "/echo").result_int();
        } catch (const std::exception &) {
        }
        std::lock_guard<std::mutex> lock(mutex);
        ++statuses[status];
      }
    });
  }
  int restarted = cluster_command("restart");
  EXPECT_TRUE(wait_until_ok(gateway.port(), "/echo", 201, seconds(30)));
  stop = true;
  for (auto &thread : load)
    thread.join();
  ASSERT_EQ(restarted, 0);

  for (const auto &[status, count] : statuses) {
    EXPECT_TRUE(status == 201 || status == 503) << count << " answers with status " << status;
  }
  EXPECT_GT(statuses[201], 0);
}

TEST(DatabaseRestart, RequestsInFlightWhenTheDatabaseStopsAreEachAnsweredOnce) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2", "--request-timeout", "30s"});
  const int in_flight = 6;
  const long long key = static_cast<long long>(::getpid()) * 100 + 60;
  ClusterRestarter restarter;
  std::vector<std::unique_ptr<HttpClient>> clients;
  {
    HeldLock lock(key); // dies with the database
    for (int i = 0; i < in_flight; ++i) {
      clients.push_back(std::make_unique<HttpClient>(gateway.port(), seconds(60)));
      clients.back()->write(make_request(boost::beast::http::verb::get, "/wait-lock?key=" + std::to_string(key)));
    }
    ASSERT_TRUE(wait_for_metric(gateway.port(), "authflow_gateway_pool_requests_in_flight", in_flight, seconds(30)));
    ASSERT_EQ(cluster_command("stop"), 0);
  }
  for (auto &client : clients) {
    auto response = client->read_response();
    const int status = response.result_int();
    EXPECT_TRUE(status == 201 || (status == 503 && response["x-known-error"] == "DATABASE_UNAVAILABLE"))
        << "status " << status << ": " << response.body();
  }
  EXPECT_EQ(metric_value(gateway.port(), "authflow_gateway_pool_requests_in_flight"), 0);

  ASSERT_EQ(cluster_command("start"), 0);
  EXPECT_TRUE(wait_until_ok(gateway.port(), "/readyz", 200, seconds(30)));
  // The next answer on each connection is that of its next request: nothing was answered twice.
  for (int i = 0; i < in_flight; ++i) {
    auto response = clients[i]->get("/echo?after=" + std::to_string(i));
    ASSERT_EQ(response.result_int(), 201) << response.body();
    EXPECT_EQ(json::parse(response.body())["target"], "/echo?after=" + std::to_string(i));
  }
}

} // namespace
} // namespace authflow::testing
