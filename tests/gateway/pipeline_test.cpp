// pipeline_test.cpp: many requests in flight on few database connections (each connection a
// libpq pipeline): every answer reaches its own client, in order; a failing statement fails its
// own request only; a slow statement holds up only the requests behind it; a request that cannot
// start before its deadline is answered 503 without having run.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using nlohmann::json;
using std::chrono::seconds;

const std::string in_flight = "authflow_gateway_pool_requests_in_flight";

// lock_key is an advisory lock key of this test process alone.
long long lock_key(int n) { return static_cast<long long>(::getpid()) * 100 + n; }

// wait_lock is the target of a request that waits for lock n in the database.
std::string wait_lock(int n) { return "/wait-lock?key=" + std::to_string(lock_key(n)); }

TEST(Pipeline, RequestsPipelinedOnOneConnectionAreAnsweredInOrder) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2"});
  HttpClient client(gateway.port());
  const int count = 40;
  std::string requests;
  for (int i = 0; i < count; ++i)
    requests += "GET /echo?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  client.write_raw(requests); // all of them before reading any answer
  for (int i = 0; i < count; ++i) {
    auto response = client.read_response();
    ASSERT_EQ(response.result_int(), 201) << "answer " << i;
    EXPECT_EQ(json::parse(response.body())["target"], "/echo?i=" + std::to_string(i)) << "answers out of order";
  }
}

TEST(Pipeline, ManyClientsShareTwoDatabaseConnectionsEachGettingItsOwnAnswers) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "2", "--io-threads", "2"});
  const int clients = 48, requests = 25;
  net::io_context io;
  std::vector<std::shared_ptr<KeepAliveClient>> all;
  std::set<long long> backends;
  int own = 0;
  for (int c = 0; c < clients; ++c) {
    auto target = [c](int r) { return "/echo?client=" + std::to_string(c) + "&request=" + std::to_string(r); };
    all.push_back(std::make_shared<KeepAliveClient>(io));
    all.back()->connect(gateway.port(), [&, c, target](bool ok) {
      if (!ok)
        return;
      all[c]->send(requests, target, [&, target](int r, const Response &response) {
        if (response.result_int() != 201)
          return;
        auto echo = json::parse(response.body());
        own += echo["target"] == target(r) ? 1 : 0;
        backends.insert(echo["backend"].get<long long>());
      });
    });
  }
  io.run_for(std::chrono::seconds(120));
  EXPECT_EQ(own, clients * requests) << "every answer reaches the client that asked";
  EXPECT_GE(backends.size(), 1u);
  EXPECT_LE(backends.size(), 2u) << "no more database connections than the pool";
}

TEST(Pipeline, AFailingStatementInTheMiddleFailsOnlyItsOwnRequest) {
  // One connection, its pipeline held up by a lock until every request is in it.
  GatewayProcess gateway(
      {"--http-function", test_function(), "--pool-size", "1", "--request-timeout", "30s", "--retries", "3"});
  reset_conflicts();
  const std::string retries = "authflow_gateway_database_retries_total{reason=\"serialization_failure\"}";
  const double retried_before = metric_value(gateway.port(), retries);
  HeldLock lock(lock_key(1));
  const std::vector<std::string> targets = {wait_lock(1), "/echo?i=1", "/echo?i=2", "/bug",     "/echo?i=4",
                                            "/conflict",  "/echo?i=6", "/deadlock", "/echo?i=8"};
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (const auto &target : targets) {
    clients.push_back(std::make_unique<HttpClient>(gateway.port(), seconds(60)));
    clients.back()->write(make_request(http::verb::get, target));
    // The blocked statement first: requests on different connections are read in no set order,
    // and one read before it would run (and leave the pipeline) at once.
    if (clients.size() == 1) {
      ASSERT_TRUE(wait_for_metric(gateway.port(), in_flight, 1, seconds(30)));
    }
  }
  ASSERT_TRUE(wait_for_metric(gateway.port(), in_flight, static_cast<double>(targets.size()), seconds(30)))
      << "the requests did not all get into the pipeline";
  lock.release();

  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto response = clients[i]->read_response();
    if (targets[i] == "/bug") {
      EXPECT_EQ(response.result_int(), 500);
      EXPECT_EQ(response["x-known-error"], "INTERNAL_ERROR");
    } else if (targets[i] == "/deadlock") {
      EXPECT_EQ(response.result_int(), 503) << "retried alone, then given up";
      EXPECT_EQ(response["x-known-error"], "DATABASE_CONFLICT");
    } else {
      ASSERT_EQ(response.result_int(), 201) << targets[i] << ": " << response.body();
      EXPECT_EQ(json::parse(response.body())["target"], targets[i]);
    }
  }
  EXPECT_EQ(metric_value(gateway.port(), retries), retried_before + 2)
      << "only /conflict was sent again, twice, as it failed twice";
}

TEST(Pipeline, ASlowStatementDoesNotHoldUpOtherClients) {
  // Both connections on one thread: the blocked one holds one call, the other is idle.
  GatewayProcess gateway(
      {"--http-function", test_function(), "--pool-size", "2", "--io-threads", "1", "--request-timeout", "30s"});
  // Both connections set up first: a call made while one is still connecting goes into the
  // pipeline of the other, behind the slow statement.
  ASSERT_TRUE(wait_for_metric(gateway.port(), "authflow_gateway_pool_connections_ready", 2, seconds(30)));
  HeldLock lock(lock_key(2));
  HttpClient slow(gateway.port(), seconds(60));
  slow.write(make_request(http::verb::get, wait_lock(2)));
  ASSERT_TRUE(wait_for_metric(gateway.port(), in_flight, 1, seconds(30)));

  HttpClient other(gateway.port(), seconds(10));
  for (int i = 0; i < 20; ++i) {
    auto response = other.get("/echo?i=" + std::to_string(i));
    ASSERT_EQ(response.result_int(), 201);
    EXPECT_EQ(json::parse(response.body())["target"], "/echo?i=" + std::to_string(i));
  }
  EXPECT_EQ(metric_value(gateway.port(), in_flight), 1) << "the slow request is still waiting for its lock";
  lock.release();
  EXPECT_EQ(slow.read_response().result_int(), 201);
}

TEST(Pipeline, ARequestThatCannotStartBeforeItsDeadlineIs503AndNeverRuns) {
  // One connection, a request timeout of 1 s: two statements of 0.7 s ahead of it in the
  // pipeline, the third request starts 1.4 s after it came, past its deadline. Each request goes
  // in once the one before it is in the pipeline, so their order is known.
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "1", "--request-timeout", "1s"});
  const std::string id = "late-" + std::to_string(::getpid());
  const std::vector<std::string> targets = {"/slow?seconds=0.7", "/slow?seconds=0.7", "/record?id=" + id};
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    clients.push_back(std::make_unique<HttpClient>(gateway.port()));
    clients.back()->write(make_request(http::verb::get, targets[i]));
    ASSERT_TRUE(wait_for_metric(gateway.port(), in_flight, static_cast<double>(i + 1), seconds(30)));
  }
  EXPECT_EQ(clients[0]->read_response().result_int(), 201);
  EXPECT_EQ(clients[1]->read_response().result_int(), 201) << "it started 0.7 s after it came: in time";
  auto late = clients[2]->read_response();
  EXPECT_EQ(late.result_int(), 503);
  EXPECT_EQ(late["x-known-error"], "DATABASE_BUSY");
  auto recorded = records();
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), id), 0) << "the late request ran";
  // The same request in time runs.
  EXPECT_EQ(clients[2]->get("/record?id=" + id + "-again").result_int(), 201);
  recorded = records();
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), id + "-again"), 1);
}

} // namespace
} // namespace authflow::testing
