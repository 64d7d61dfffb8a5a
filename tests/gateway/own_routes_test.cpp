// own_routes_test.cpp: /healthz, /readyz, /metrics, the route the SQL side does not know, and the
// command line.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;

// run_binary runs the gateway with arguments that make it exit at once; returns (status, stdout).
std::pair<int, std::string> run_binary(const std::string &arguments) {
  std::string command = gateway_binary() + " " + arguments + " 2>/dev/null";
  FILE *pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return {-1, ""};
  std::string output;
  char chunk[1024];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0)
    output.append(chunk, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(OwnRoutes, HealthzAnswersWithoutTheDatabase) {
  GatewayProcess gateway({"--database", "host=127.0.0.1 port=1 connect_timeout=2"});
  auto response = get_once(gateway.port(), "/healthz");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(response.body()), nlohmann::json({{"status", "ok"}}));
}

TEST(OwnRoutes, ReadyzIs503WhenTheDatabaseIsUnreachable) {
  GatewayProcess gateway({"--database", "host=127.0.0.1 port=1 connect_timeout=2"});
  auto response = get_once(gateway.port(), "/readyz");
  EXPECT_EQ(response.result_int(), 503);
  EXPECT_EQ(response["x-known-error"], "DATABASE_UNAVAILABLE");
  auto body = nlohmann::json::parse(response.body());
  EXPECT_EQ(body["code"], "DATABASE_UNAVAILABLE");
  EXPECT_EQ(body["error"], "database unavailable");
}

TEST(OwnRoutes, ReadyzIs200WhenTheDatabaseAnswers) {
  GatewayProcess gateway({});
  auto response = get_once(gateway.port(), "/readyz");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(response.body())["status"], "ready");
}

TEST(OwnRoutes, MetricsExposeRequestsLatencyPoolAndDatabaseFamilies) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "3"});
  ASSERT_EQ(get_once(gateway.port(), "/healthz").result_int(), 200);
  ASSERT_EQ(get_once(gateway.port(), "/bug").result_int(), 500);
  auto response = get_once(gateway.port(), "/metrics");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string &text = response.body();
  for (const char *expected : {
           "# TYPE authflow_gateway_requests_total counter",
           "authflow_gateway_requests_total{route=\"GET /healthz\",status=\"200\"} 1",
           "authflow_gateway_requests_total{route=\"unmatched\",status=\"500\"} 1",
           "# TYPE authflow_gateway_request_duration_seconds histogram",
           "authflow_gateway_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"+Inf\"} 1",
           "authflow_gateway_request_duration_seconds_count{route=\"GET /healthz\"} 1",
           "authflow_gateway_pool_connections 3",
           "# TYPE authflow_gateway_pool_connections_ready gauge",
           "authflow_gateway_pool_connections_in_use 0",
           "authflow_gateway_pool_waiting_requests 0",
           "# TYPE authflow_gateway_database_errors_total counter",
           "authflow_gateway_database_errors_total{kind=\"other\"} 1",
           "# TYPE authflow_gateway_database_retries_total counter",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected;
  }
}

TEST(OwnRoutes, OwnRoutesRefuseOtherMethods) {
  GatewayProcess gateway({});
  HttpClient client(gateway.port());
  auto response = client.send(make_request(http::verb::post, "/healthz", "x"));
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(response["x-known-error"], "METHOD_NOT_ALLOWED");
}

TEST(OwnRoutes, UnknownRouteIsAnsweredByAuthflowHttpWith404) {
  GatewayProcess gateway({});
  auto response = get_once(gateway.port(), "/no/such/route");
  EXPECT_EQ(response.result_int(), 404);
  EXPECT_EQ(nlohmann::json::parse(response.body())["code"], "NOT_FOUND");
}

TEST(CommandLine, HelpListsEveryFlagAndExitsZero) {
  auto [status, output] = run_binary("--help");
  EXPECT_EQ(status, 0);
  for (const char *flag :
       {"--listen", "--database", "--pool-size", "--max-body", "--read-timeout", "--idle-timeout", "--request-timeout",
        "--retries", "--io-threads", "--http-function", "--trusted-proxies", "AUTHFLOW_LISTEN", "AUTHFLOW_DATABASE_URL",
        "AUTHFLOW_POOL_SIZE", "AUTHFLOW_MAX_BODY", "AUTHFLOW_TRUSTED_PROXIES"}) {
    EXPECT_NE(output.find(flag), std::string::npos) << "missing: " << flag;
  }
}

TEST(CommandLine, InvalidValuesExitTwo) {
  EXPECT_EQ(run_binary("--http-function 'authflow.http(); DROP TABLE x'").first, 2);
  EXPECT_EQ(run_binary("--http-function Authflow.Http").first, 2);
  EXPECT_EQ(run_binary("--http-function a.b.c").first, 2);
  EXPECT_EQ(run_binary("--pool-size 0").first, 2);
  EXPECT_EQ(run_binary("--max-body lots").first, 2);
  EXPECT_EQ(run_binary("--listen nowhere").first, 2);
  EXPECT_EQ(run_binary("--read-timeout -1").first, 2);
  EXPECT_EQ(run_binary("--no-such-flag 1").first, 2);
  EXPECT_EQ(run_binary("--retries").first, 2);
  for (const char *list : {"10.0.0.0/33", "example.com", "'10.0.0.1,,bad'", "::1/129", "'10.0.0.0/8 */0'"})
    EXPECT_EQ(run_binary(std::string("--trusted-proxies ") + list).first, 2) << list;
  ::setenv("AUTHFLOW_TRUSTED_PROXIES", "proxy.example", 1);
  const int from_environment = run_binary("--listen 127.0.0.1:0").first;
  ::unsetenv("AUTHFLOW_TRUSTED_PROXIES");
  EXPECT_EQ(from_environment, 2) << "an invalid AUTHFLOW_TRUSTED_PROXIES";
}

} // namespace
} // namespace authflow::testing
