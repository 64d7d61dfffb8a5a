// api_test.cpp: the real HTTP API end to end: the real gateway binary, connected as a role that
// may only call authflow.http, in front of the real extension, over loopback sockets.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

constexpr const char *kGatewayRole = "authflow_gateway_api_test";

class Api : public ::testing::Test {
protected:
  // SetUpTestSuite creates the EXECUTE-only role and starts one gateway connected as it.
  static void SetUpTestSuite() {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec(std::string("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '") + kGatewayRole +
              "') THEN CREATE ROLE " + kGatewayRole + " LOGIN; END IF; END $$");
    work.exec_params("SELECT authflow.grant_http($1)", kGatewayRole);
    server_key_ = work.exec1("SELECT authflow.api_key_create()")[0].as<std::string>();
    work.commit();
    gateway_ = std::make_unique<GatewayProcess>(
        std::vector<std::string>{"--database", std::string("user=") + kGatewayRole, "--pool-size", "4"});
  }
  static void TearDownTestSuite() { gateway_.reset(); }

  static Response Post(const std::string &target, const json &body,
                       const std::multimap<std::string, std::string> &headers = {}) {
    HttpClient client(gateway_->port());
    auto merged = headers;
    merged.emplace("Content-Type", "application/json");
    return client.send(make_request(http::verb::post, target, body.dump(), merged));
  }
  static Response Send(http::verb method, const std::string &target,
                       const std::multimap<std::string, std::string> &headers) {
    HttpClient client(gateway_->port());
    return client.send(make_request(method, target, "", headers));
  }
  // BrowserRefreshToken is a signed-in user's refresh token, made over HTTP with the server key.
  static std::string BrowserRefreshToken(const std::string &user) {
    const auto response = Post("/api/v1/sessions", {{"user_id", user}}, {{"x-server-key", server_key_}});
    EXPECT_EQ(response.result_int(), 201) << response.body();
    return json::parse(response.body())["refresh_token"];
  }

  static std::unique_ptr<GatewayProcess> gateway_;
  static std::string server_key_;
};

std::unique_ptr<GatewayProcess> Api::gateway_;
std::string Api::server_key_;

TEST_F(Api, FullCliCycle) {
  auto started = Post("/api/v1/auth/cli", json::object());
  ASSERT_EQ(started.result_int(), 200) << started.body();
  const json attempt = json::parse(started.body());
  ASSERT_TRUE(attempt.contains("polling_code") && attempt.contains("login_code") && attempt.contains("expires_at"));
  const json poll = {{"polling_code", attempt["polling_code"]}};

  EXPECT_EQ(json::parse(Post("/api/v1/auth/cli/poll", poll).body()), json({{"status", "waiting"}}));
  EXPECT_EQ(
      json::parse(Post("/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"mode", "check"}}).body()),
      json({{"cli_session_state", "none"}}));
  const std::string user = unique_name("did:plc:http-cli");
  auto completed = Post("/api/v1/auth/cli/complete",
                        {{"login_code", attempt["login_code"]}, {"refresh_token", BrowserRefreshToken(user)}});
  ASSERT_EQ(completed.result_int(), 200) << completed.body();
  EXPECT_EQ(json::parse(completed.body()), json({{"success", true}}));

  auto success = Post("/api/v1/auth/cli/poll", poll);
  ASSERT_EQ(success.result_int(), 201) << success.body();
  const json tokens = json::parse(success.body());
  EXPECT_EQ(tokens["status"], "success");
  auto current = Send(http::verb::get, "/api/v1/sessions/current",
                      {{"Authorization", "Bearer " + tokens["access_token"].get<std::string>()}});
  ASSERT_EQ(current.result_int(), 200) << current.body();
  EXPECT_EQ(json::parse(current.body())["user_id"], user);
  EXPECT_EQ(json::parse(Post("/api/v1/auth/cli/poll", poll).body()), json({{"status", "used"}}));
}

TEST_F(Api, AnonymousCliCycleWithClaim) {
  const json anon = json::parse(Post("/api/v1/auth/anonymous/sign-up", json::object()).body());
  const json attempt = json::parse(Post("/api/v1/auth/cli", {{"anon_refresh_token", anon["refresh_token"]}}).body());
  EXPECT_EQ(
      json::parse(Post("/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"mode", "check"}}).body()),
      json({{"cli_session_state", "anonymous"}}));
  auto claimed =
      Post("/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"mode", "claim-anon-session"}});
  ASSERT_EQ(claimed.result_int(), 200) << claimed.body();
  auto again =
      Post("/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"mode", "claim-anon-session"}});
  EXPECT_EQ(again.result_int(), 400);
  EXPECT_EQ(json::parse(again.body())["error"], "No anonymous session associated with this code");
}

TEST_F(Api, SessionCycleWithCookies) {
  auto created = Post("/api/v1/sessions", {{"user_id", unique_name("did:plc:http-cookie")}, {"handle", "cookie.test"}},
                      {{"x-server-key", server_key_}});
  ASSERT_EQ(created.result_int(), 201) << created.body();
  const json session = json::parse(created.body());
  const std::string cookie = "authflow_refresh=" + session["refresh_token"].get<std::string>();
  const std::string old_access = session["access_token"];

  auto current = Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", "Bearer " + old_access}});
  ASSERT_EQ(current.result_int(), 200);
  EXPECT_EQ(json::parse(current.body())["handle"], "cookie.test");

  auto refreshed =
      Send(http::verb::post, "/api/v1/sessions/current/refresh", {{"Cookie", "theme=dark"}, {"Cookie", cookie}});
  ASSERT_EQ(refreshed.result_int(), 200) << refreshed.body();
  const std::string set_cookie(refreshed[http::field::set_cookie]);
  EXPECT_EQ(set_cookie.rfind(cookie + "; Path=/api/v1/sessions; Max-Age=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; HttpOnly; Secure; SameSite=Lax"), std::string::npos) << set_cookie;
  const std::string new_access = json::parse(refreshed.body())["access_token"];
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", "Bearer " + old_access}}).result_int(),
            401);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", "Bearer " + new_access}}).result_int(),
            200);

  auto logout = Send(http::verb::delete_, "/api/v1/sessions/current", {{"Cookie", cookie}});
  EXPECT_EQ(logout.result_int(), 204);
  EXPECT_NE(std::string(logout[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
  auto after = Send(http::verb::post, "/api/v1/sessions/current/refresh", {{"Cookie", cookie}});
  EXPECT_EQ(after.result_int(), 401);
  EXPECT_NE(std::string(after[http::field::set_cookie]).find("authflow_refresh=;"), std::string::npos);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", "Bearer " + new_access}}).result_int(),
            401);
}

TEST_F(Api, HostPrefixedCookieOfATenant) {
  const std::string tenant = "api-test-cookie";
  std::string refresh;
  {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec_params("SELECT authflow.tenant_set($1, refresh_cookie_name => '__Host-app_refresh')", tenant);
    refresh = work.exec_params1("SELECT refresh_token FROM authflow.session_create($1, tenant => $2)",
                                unique_name("did:plc:http-host-cookie"), tenant)[0]
                  .as<std::string>();
    work.commit();
  }
  auto planted = Send(http::verb::post, "/api/v1/sessions/current/refresh",
                      {{"x-tenant-id", tenant}, {"Cookie", "authflow_refresh=" + refresh}});
  EXPECT_EQ(planted.result_int(), 401) << "a cookie of another name is not the tenant's";
  auto refreshed = Send(http::verb::post, "/api/v1/sessions/current/refresh",
                        {{"x-tenant-id", tenant}, {"Cookie", "__Host-app_refresh=" + refresh}});
  ASSERT_EQ(refreshed.result_int(), 200) << refreshed.body();
  const std::string set_cookie(refreshed[http::field::set_cookie]);
  // A new tenant rotates refresh tokens: the cookie carries the new one, which the body also has.
  const std::string rotated = json::parse(refreshed.body())["refresh_token"];
  EXPECT_NE(rotated, refresh);
  EXPECT_EQ(set_cookie.rfind("__Host-app_refresh=" + rotated + "; Path=/; Max-Age=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; HttpOnly; Secure; SameSite=Lax"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("Domain"), std::string::npos) << set_cookie;
}

TEST_F(Api, UserSessionsNeedTheServerKey) {
  const std::string user = unique_name("did:plc:http-list");
  BrowserRefreshToken(user);
  BrowserRefreshToken(user);
  const std::string path = "/api/v1/users/" + user + "/sessions";
  EXPECT_EQ(Send(http::verb::get, path, {}).result_int(), 401);
  auto listed = Send(http::verb::get, path, {{"x-server-key", server_key_}});
  ASSERT_EQ(listed.result_int(), 200);
  EXPECT_EQ(json::parse(listed.body())["sessions"].size(), 2u);
  auto deleted = Send(http::verb::delete_, path, {{"x-stack-secret-server-key", server_key_}});
  EXPECT_EQ(json::parse(deleted.body()), json({{"deleted", 2}}));
}

TEST_F(Api, ErrorPathsAreJsonWithTheirCodes) {
  auto unknown = Post("/api/v1/auth/cli/poll", {{"polling_code", "afp_nope"}});
  EXPECT_EQ(unknown.result_int(), 400);
  EXPECT_EQ(json::parse(unknown.body()),
            json({{"code", "INVALID_POLLING_CODE"}, {"error", "The polling code is invalid or does not exist."}}));
  EXPECT_EQ(unknown["x-stack-known-error"], "INVALID_POLLING_CODE");

  struct Case {
    http::verb method;
    std::string target, body;
    std::multimap<std::string, std::string> headers;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {http::verb::post, "/api/v1/auth/cli/poll", "{broken", {}, 400, "SCHEMA_ERROR"},
      {http::verb::post, "/api/v1/auth/cli", R"({"expires_in_millis": 86400001})", {}, 400, "SCHEMA_ERROR"},
      {http::verb::post, "/api/v1/auth/cli/complete", R"({"login_code": "afl_x"})", {}, 400, "INVALID_LOGIN_CODE"},
      {http::verb::post, "/api/v1/sessions", R"({"user_id": "u"})", {}, 401, "SERVER_KEY_REQUIRED"},
      {http::verb::post,
       "/api/v1/sessions",
       R"({"user_id": "u"})",
       {{"x-server-key", "afk_forged"}},
       401,
       "INVALID_SERVER_KEY"},
      {http::verb::get,
       "/api/v1/sessions/current",
       "",
       {{"Authorization", "Bearer afa_forged"}},
       401,
       "INVALID_ACCESS_TOKEN"},
      {http::verb::post, "/api/v1/auth/cli", "{}", {{"x-tenant-id", "no-such-project"}}, 400, "PROJECT_NOT_FOUND"},
      {http::verb::get, "/api/v1/auth/cli", "", {}, 405, "METHOD_NOT_ALLOWED"},
      {http::verb::get, "/api/v2/anything", "", {}, 404, "NOT_FOUND"},
      {http::verb::post, "/api/v1/auth/cli/poll", std::string(70000, ' '), {}, 413, ""},
  };
  for (const auto &c : cases) {
    HttpClient client(gateway_->port());
    auto response = client.send(make_request(c.method, c.target, c.body, c.headers));
    EXPECT_EQ(response.result_int(), c.status) << c.target << " " << response.body();
    const json body = json::parse(response.body(), nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << "error bodies are JSON: " << response.body();
    EXPECT_TRUE(body.contains("code") && body.contains("error")) << response.body();
    if (!c.code.empty()) {
      EXPECT_EQ(body["code"], c.code) << c.target;
      EXPECT_EQ(response["x-known-error"], c.code) << c.target;
    }
  }
}

// One tenant rule on every route, over the real gateway: no tenant header means default, and a
// credential of another tenant is refused (401 for session tokens, 403 for server keys, Stack's
// 400 for CLI codes).
TEST_F(Api, NoTenantHeaderMeansDefaultOnEveryRoute) {
  const std::string other = "api-test-other";
  std::string access, refresh, other_key, polling_code;
  {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec_params("SELECT authflow.tenant_set($1)", other);
    auto row = work.exec_params1("SELECT access_token, refresh_token FROM authflow.session_create($1, tenant => $2)",
                                 unique_name("did:plc:http-other"), other);
    access = row[0].as<std::string>();
    refresh = row[1].as<std::string>();
    other_key = work.exec_params1("SELECT authflow.api_key_create('server', $1)", other)[0].as<std::string>();
    polling_code =
        work.exec_params1("SELECT polling_code FROM authflow.cli_start(tenant => $1)", other)[0].as<std::string>();
    work.commit();
  }
  const std::string bearer = "Bearer " + access;
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", bearer}}).result_int(), 401);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current?a=1", {{"Authorization", bearer}}).result_int(), 401);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", bearer}, {"x-tenant-id", other}})
                .result_int(),
            200);
  EXPECT_EQ(
      Send(http::verb::get, "/api/v1/sessions/current", {{"Authorization", bearer}, {"x-stack-project-id", other}})
          .result_int(),
      200);
  EXPECT_EQ(Send(http::verb::post, "/api/v1/sessions/current/refresh", {{"x-refresh-token", refresh}}).result_int(),
            401);
  EXPECT_EQ(Send(http::verb::delete_, "/api/v1/sessions/current", {{"x-refresh-token", refresh}}).result_int(), 401);
  EXPECT_EQ(Post("/api/v1/sessions", {{"user_id", "u"}}, {{"x-server-key", other_key}}).result_int(), 403);
  EXPECT_EQ(Send(http::verb::get, "/api/v1/users/u/sessions", {{"x-server-key", other_key}}).result_int(), 403);
  EXPECT_EQ(Send(http::verb::delete_, "/api/v1/users/u/sessions", {{"x-server-key", other_key}}).result_int(), 403);
  auto poll = Post("/api/v1/auth/cli/poll", {{"polling_code", polling_code}});
  EXPECT_EQ(poll.result_int(), 400);
  EXPECT_EQ(poll["x-known-error"], "INVALID_POLLING_CODE");
  EXPECT_EQ(Post("/api/v1/auth/cli", {{"anon_refresh_token", refresh}}).result_int(), 400);
  // The refused calls changed nothing: the session still refreshes in its own tenant.
  EXPECT_EQ(
      Send(http::verb::post, "/api/v1/sessions/current/refresh", {{"x-refresh-token", refresh}, {"x-tenant-id", other}})
          .result_int(),
      200);
}

TEST_F(Api, MetricsNameRouteTemplates) {
  Send(http::verb::get, "/api/v1/users/did%3Aplc%3Ametrics/sessions", {{"x-server-key", server_key_}});
  EXPECT_GE(
      metric_value(gateway_->port(),
                   "authflow_gateway_requests_total{route=\"GET /api/v1/users/{user_id}/sessions\",status=\"200\"}"),
      1.0);
}

TEST_F(Api, OddMethodsAndPathsNeverBecomeMetricLabels) {
  for (int i = 0; i < 50; ++i) {
    for (const std::string path : {"/api/v1/auth/cli", "/api/v1/users/u/sessions", "/api/v1/no-such-route"}) {
      HttpClient client(gateway_->port());
      client.write_raw("ODD" + std::to_string(i) + std::string(200, 'M') + " " + path + "/" + std::to_string(i) +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
      EXPECT_LT(client.read_response().result_int(), 500);
    }
  }
  const std::string metrics = get_once(gateway_->port(), "/metrics").body();
  EXPECT_EQ(metrics.find("ODD"), std::string::npos) << "no raw method in a label";
  EXPECT_EQ(metrics.find("no-such-route"), std::string::npos) << "no raw path in a label";
  EXPECT_GE(metric_value(gateway_->port(), "authflow_gateway_requests_total{route=\"other\",status=\"404\"}"), 50.0);
  EXPECT_LT(metrics.size(), 64u * 1024u);
}

} // namespace
} // namespace authflow::testing
