// access_log_test.cpp: one JSON line per request on stdout, with the route template and the
// tenant, and never a token, cookie, key, body, query string or raw path.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <tuple>
#include <vector>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using std::chrono::seconds;

// log_line_with waits for the access-log line that mentions a marker and parses it.
json log_line_with(GatewayProcess &gateway, const std::string &marker) {
  std::string found;
  bool seen = gateway.wait_for_line(
      [&](const std::string &line) {
        if (line.find(marker) == std::string::npos)
          return false;
        found = line;
        return true;
      },
      seconds(10));
  if (!seen)
    return json();
  return json::parse(found);
}

TEST(AccessLog, OneLinePerRequestWithRouteStatusTenantAndDuration) {
  GatewayProcess gateway({"--http-function", test_function()});
  HttpClient client(gateway.port());
  auto response = client.send(make_request(http::verb::post, "/echo/123?x=1", "{}", {{"X-Tenant-Id", "tenant-one"}}));
  ASSERT_EQ(response.result_int(), 201);
  auto line = log_line_with(gateway, "tenant-one");
  ASSERT_TRUE(line.is_object());
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["route"], "POST /echo");
  EXPECT_EQ(line["status"], 201);
  EXPECT_TRUE(line["duration_ms"].is_number());
  EXPECT_GE(line["duration_ms"].get<double>(), 0);
  EXPECT_TRUE(line["time"].is_string());
  EXPECT_EQ(line["time"].get<std::string>().back(), 'Z');

  // The tenant is the one SQL names in x-authflow-tenant (it alone knows the tenant headers); the
  // header never reaches the client.
  EXPECT_EQ(response.count("x-authflow-tenant"), 0u);
}

TEST(AccessLog, TheGatewaysOwnAnswersNameNoTenant) {
  GatewayProcess gateway({"--http-function", test_function()});
  HttpClient client(gateway.port());
  ASSERT_EQ(
      client.send(make_request(http::verb::get, "/healthz", "", {{"X-Stack-Project-Id", "project-two"}})).result_int(),
      200);
  auto line = log_line_with(gateway, "GET /healthz");
  ASSERT_TRUE(line.is_object());
  EXPECT_TRUE(line["tenant"].is_null()) << line.dump();
}

// Over the real authflow.http: every tenant header SQL accepts reaches the log, as SQL resolved it.
TEST(AccessLog, TheTenantIsTheOneSqlResolved) {
  GatewayProcess gateway({});
  HttpClient client(gateway.port());
  const std::string uuid = "8C7A52E4-0E27-4A61-9B1B-3F0A6D1E2C55";
  for (const auto &[header, value, logged] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"X-Hexclave-Project-Id", uuid, "8c7a52e4-0e27-4a61-9b1b-3f0a6d1e2c55"},
                                                                      {"X-Stack-Project-Id", "log-stack-name", "log-stack-name"},
                                                                      {"X-Tenant-Id", "log-own-name", "log-own-name"}}) {
    auto response = client.send(make_request(http::verb::post, "/api/v1/auth/cli/poll", "{}", {{header, value}}));
    EXPECT_EQ(response.result_int(), 400) << header;
    EXPECT_EQ(response.count("x-authflow-tenant"), 0u);
    auto line = log_line_with(gateway, "\"" + logged + "\"");
    ASSERT_TRUE(line.is_object()) << header;
    EXPECT_EQ(line["tenant"], logged) << header;
  }
  ASSERT_EQ(client.send(make_request(http::verb::post, "/api/v1/auth/cli/poll", "{}")).result_int(), 400);
  auto line = log_line_with(gateway, "\"default\"");
  ASSERT_TRUE(line.is_object());
}

TEST(AccessLog, NeverHoldsTokensCookiesKeysBodiesQueriesOrRawPaths) {
  GatewayProcess gateway({"--http-function", test_function()});
  HttpClient client(gateway.port());
  const std::multimap<std::string, std::string> secrets = {{"Authorization", "Bearer afa_SECRET_TOKEN_1"},
                                                           {"Cookie", "session=SECRET_COOKIE_2"},
                                                           {"X-Server-Key", "SECRET_KEY_3"},
                                                           {"X-Tenant-Id", "tenant-secrets"}};
  ASSERT_EQ(
      client.send(make_request(http::verb::post, "/echo/SECRET_PATH_4?token=SECRET_QUERY_5", "SECRET_BODY_6", secrets))
          .result_int(),
      201);
  // An error answer, and a route the SQL side names no template for.
  ASSERT_EQ(client.send(make_request(http::verb::get, "/bug?key=SECRET_QUERY_7", "", secrets)).result_int(), 500);
  ASSERT_EQ(client.send(make_request(http::verb::post, "/echo", std::string(100000, 'S'), secrets)).result_int(), 413);

  // Wait for all three lines, then check every line printed.
  ASSERT_TRUE(gateway.wait_for_line(
      [](const std::string &line) { return line.find("\"status\":413") != std::string::npos; }, seconds(10)));
  int request_lines = 0;
  for (const auto &line : gateway.lines()) {
    if (line.rfind("listening on", 0) == 0)
      continue;
    ++request_lines;
    EXPECT_EQ(line.find("SECRET"), std::string::npos) << line;
    EXPECT_EQ(line.find('?'), std::string::npos) << line;
    auto parsed = json::parse(line);
    EXPECT_TRUE(parsed["route"] == "POST /echo" || parsed["route"] == "unmatched") << line;
  }
  EXPECT_EQ(request_lines, 3);
}

} // namespace
} // namespace authflow::testing
