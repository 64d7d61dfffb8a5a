// stack_cli_test.cpp: Stack Auth's own CLI-login behaviours, over the real gateway, one row per
// behaviour: the statuses and messages of Stack's /api/v1/auth/cli routes (their backend's
// StatusError texts), and what Stack's SDK needs of the answers (error-status override, the
// x-hexclave-* headers).
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

// Stack's messages (apps/backend/src/app/api/latest/auth/cli/...).
const char *const kInvalidLoginCode = "Invalid login code or the code has expired";
const char *const kNoAnonymousSession = "No anonymous session associated with this code";
const char *const kRefreshTokenRequired = "refresh_token is required when mode is 'complete'";
const char *const kInvalidRefreshToken = "Invalid refresh token";
const char *const kProjectIdMismatch = "Project ID mismatch; please ensure that you are using the correct app url.";

// query_text runs one query (with $1 when it has one) and returns the first column as text.
std::string query_text(const std::string &query, const std::string &argument = "") {
  auto connection = connect();
  pqxx::work work(*connection);
  auto row = query.find("$1") == std::string::npos ? work.exec1(query) : work.exec_params1(query, argument);
  work.commit();
  return row[0].as<std::string>();
}

// seconds_from_now is how far an ISO 8601 time (expires_at) is from now, in seconds.
double seconds_from_now(const std::string &when) {
  return std::stod(query_text("SELECT extract(epoch FROM ($1::timestamptz - now()))::text", when));
}

class StackCli : public ::testing::Test {
protected:
  // One gateway and one project (a UUID, as Stack names projects) with its rate limits lifted.
  static void SetUpTestSuite() {
    project_ = query_text("SELECT gen_random_uuid()::text");
    query_text("SELECT authflow.tenant_set($1)::text", project_);
    query_text("SELECT count(authflow.rate_limit_set(action, NULL, NULL, $1))::text FROM authflow.rate_limit_defaults()", project_);
    server_key_ = query_text("SELECT authflow.api_key_create('server', $1)", project_);
    gateway_ = std::make_unique<GatewayProcess>(std::vector<std::string>{"--pool-size", "2"});
  }
  static void TearDownTestSuite() { gateway_.reset(); }

  // Post sends a JSON body under the project, named as Stack's SDK names it.
  static Response Post(const std::string &target, const json &body, std::multimap<std::string, std::string> headers = {}) {
    HttpClient client(gateway_->port());
    headers.emplace("Content-Type", "application/json");
    if (headers.count("x-tenant-id") == 0)
      headers.emplace("X-Hexclave-Project-Id", project_);
    return client.send(make_request(http::verb::post, target, body.dump(), headers));
  }
  static json Json(const Response &response) { return json::parse(response.body(), nullptr, false); }

  // Start begins an attempt: {polling_code, login_code, expires_at}.
  static json Start(const json &body = json::object()) {
    auto response = Post("/api/v1/auth/cli", body);
    EXPECT_EQ(response.result_int(), 200) << response.body();
    return Json(response);
  }
  // UserRefreshToken signs a new user in (server key) and returns the refresh token.
  static std::string UserRefreshToken(const std::string &prefix = "did:plc:stack-cli") {
    auto response = Post("/api/v1/sessions", {{"user_id", unique_name(prefix)}}, {{"X-Hexclave-Secret-Server-Key", server_key_}});
    EXPECT_EQ(response.result_int(), 201) << response.body();
    return Json(response)["refresh_token"];
  }
  static Response Complete(const json &body) { return Post("/api/v1/auth/cli/complete", body); }
  static Response Poll(const json &attempt) { return Post("/api/v1/auth/cli/poll", {{"polling_code", attempt["polling_code"]}}); }

  static std::unique_ptr<GatewayProcess> gateway_;
  static std::string project_;
  static std::string server_key_;

};

std::unique_ptr<GatewayProcess> StackCli::gateway_;
std::string StackCli::project_;
std::string StackCli::server_key_;

// An expected answer: status, and either the exact JSON body or Stack's error message.
struct Expected {
  int status;
  json body;           // null: not compared
  std::string message; // empty: not compared (an error's "error")
};

struct Behaviour {
  const char *name;
  std::function<Response()> act;
  Expected expected;
};

TEST_F(StackCli, BehavesAsStacksCliRoutes) {
  const std::vector<Behaviour> behaviours = {
      {"expires_in_millis over 24 hours is refused",
       [] { return Post("/api/v1/auth/cli", {{"expires_in_millis", 24 * 3600 * 1000 + 1}}); },
       {400, nullptr, ""}},
      {"expires_in_millis of exactly 24 hours is allowed",
       [] { return Post("/api/v1/auth/cli", {{"expires_in_millis", 24 * 3600 * 1000}}); },
       {200, nullptr, ""}},
      {"a fresh attempt is waiting", [] { return Poll(Start()); }, {200, {{"status", "waiting"}}, ""}},
      {"an unknown polling code",
       [] { return Post("/api/v1/auth/cli/poll", {{"polling_code", "not-a-code"}}); },
       {400, nullptr, "The polling code is invalid or does not exist."}},
      {"an invalid login code",
       [] { return Complete({{"login_code", "not-a-code"}, {"refresh_token", UserRefreshToken()}}); },
       {400, nullptr, kInvalidLoginCode}},
      {"an expired login code",
       [] {
         auto attempt = Start({{"expires_in_millis", 1}});
         std::this_thread::sleep_for(std::chrono::milliseconds(20));
         return Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken()}});
       },
       {400, nullptr, kInvalidLoginCode}},
      {"an expired attempt polls as expired",
       [] {
         auto attempt = Start({{"expires_in_millis", 1}});
         std::this_thread::sleep_for(std::chrono::milliseconds(20));
         return Poll(attempt);
       },
       {200, {{"status", "expired"}}, ""}},
      {"a used login code",
       [] {
         auto attempt = Start();
         EXPECT_EQ(Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken()}}).result_int(), 200);
         EXPECT_EQ(Poll(attempt).result_int(), 201);
         return Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken()}});
       },
       {400, nullptr, kInvalidLoginCode}},
      {"a second complete, by another user, is refused",
       [] {
         auto attempt = Start();
         EXPECT_EQ(Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken("did:plc:first")}}).result_int(), 200);
         return Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken("did:plc:second")}});
       },
       {400, nullptr, kInvalidLoginCode}},
      {"claim-anon-session without an anonymous session",
       [] { return Complete({{"login_code", Start()["login_code"]}, {"mode", "claim-anon-session"}}); },
       {400, nullptr, kNoAnonymousSession}},
      {"complete without refresh_token", [] { return Complete({{"login_code", Start()["login_code"]}}); },
       {400, nullptr, kRefreshTokenRequired}},
      {"complete with an unknown refresh token",
       [] { return Complete({{"login_code", Start()["login_code"]}, {"refresh_token", "afr_unknown"}}); },
       {400, nullptr, kInvalidRefreshToken}},
      {"check without an anonymous session", [] { return Complete({{"login_code", Start()["login_code"]}, {"mode", "check"}}); },
       {200, {{"cli_session_state", "none"}}, ""}},
      {"check with an anonymous session",
       [] {
         auto anonymous = Json(Post("/api/v1/auth/anonymous/sign-up", json::object()));
         auto attempt = Start({{"anon_refresh_token", anonymous["refresh_token"]}});
         return Complete({{"login_code", attempt["login_code"]}, {"mode", "check"}});
       },
       {200, {{"cli_session_state", "anonymous"}}, ""}},
      {"complete under another project",
       [] {
         auto attempt = Start();
         return Post("/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken()}},
                     {{"x-tenant-id", "default"}});
       },
       {400, nullptr, kProjectIdMismatch}},
      {"complete succeeds", [] { return Complete({{"login_code", Start()["login_code"]}, {"refresh_token", UserRefreshToken()}}); },
       {200, {{"success", true}}, ""}},
  };
  for (const auto &behaviour : behaviours) {
    SCOPED_TRACE(behaviour.name);
    auto response = behaviour.act();
    EXPECT_EQ(response.result_int(), behaviour.expected.status) << response.body();
    auto body = Json(response);
    ASSERT_FALSE(body.is_discarded()) << response.body();
    if (!behaviour.expected.body.is_null()) {
      EXPECT_EQ(body, behaviour.expected.body);
    }
    if (!behaviour.expected.message.empty()) {
      EXPECT_EQ(body.value("error", ""), behaviour.expected.message);
    }
    if (response.result_int() >= 400) {
      EXPECT_EQ(response["x-stack-known-error"], body.value("code", "")) << "known-error header";
      EXPECT_EQ(response["x-hexclave-known-error"], body.value("code", "")) << "known-error header";
    }
  }
}

TEST_F(StackCli, DefaultExpiryIsTwoHoursAndACustomOneIsKept) {
  EXPECT_NEAR(seconds_from_now(Start()["expires_at"]), 2 * 3600, 30);
  EXPECT_NEAR(seconds_from_now(Start({{"expires_in_millis", 90000}})["expires_at"]), 90, 30);
}

TEST_F(StackCli, PollSucceedsWith201ExactlyOnce) {
  auto attempt = Start();
  ASSERT_EQ(Complete({{"login_code", attempt["login_code"]}, {"refresh_token", UserRefreshToken()}}).result_int(), 200);
  auto first = Poll(attempt);
  ASSERT_EQ(first.result_int(), 201) << first.body();
  auto success = Json(first);
  EXPECT_EQ(success["status"], "success");
  EXPECT_TRUE(success["refresh_token"].is_string());
  EXPECT_TRUE(success["access_token"].is_string());
  for (int i = 0; i < 3; ++i) {
    auto again = Poll(attempt);
    EXPECT_EQ(again.result_int(), 200);
    EXPECT_EQ(Json(again), json({{"status", "used"}}));
  }
}

// With the override Stack's SDK always asks for, an error is 200 with the real status in
// x-stack-actual-status and x-hexclave-actual-status; body and known-error headers unchanged.
TEST_F(StackCli, ErrorStatusOverride) {
  for (const char *header : {"X-Stack-Override-Error-Status", "X-Hexclave-Override-Error-Status"}) {
    SCOPED_TRACE(header);
    auto plain = Complete({{"login_code", "not-a-code"}, {"refresh_token", "afr_x"}});
    auto overridden = Post("/api/v1/auth/cli/complete", {{"login_code", "not-a-code"}, {"refresh_token", "afr_x"}}, {{header, "true"}});
    ASSERT_EQ(plain.result_int(), 400);
    EXPECT_EQ(overridden.result_int(), 200);
    EXPECT_EQ(overridden["x-stack-actual-status"], "400");
    EXPECT_EQ(overridden["x-hexclave-actual-status"], "400");
    EXPECT_EQ(overridden["x-stack-known-error"], plain["x-stack-known-error"]);
    EXPECT_EQ(overridden["x-hexclave-known-error"], "INVALID_LOGIN_CODE");
    EXPECT_EQ(overridden.body(), plain.body());
    EXPECT_EQ(plain.count("x-stack-actual-status"), 0u);
    auto success = Post("/api/v1/auth/cli", json::object(), {{header, "true"}});
    EXPECT_EQ(success.result_int(), 200);
    EXPECT_EQ(success.count("x-stack-actual-status"), 0u) << "a success is left alone";
  }
  // The hot route, answered without a route lookup, too.
  HttpClient client(gateway_->port());
  auto current = client.send(make_request(http::verb::get, "/api/v1/sessions/current", "",
                                          {{"X-Hexclave-Override-Error-Status", "true"}, {"X-Hexclave-Project-Id", project_}}));
  EXPECT_EQ(current.result_int(), 200);
  EXPECT_EQ(current["x-hexclave-actual-status"], "401");
  EXPECT_EQ(current.count("x-authflow-tenant"), 0u) << "the gateway keeps its internal header";
}

} // namespace
} // namespace authflow::testing
