// hostile_input_test.cpp: every client mistake is a 4xx. A hostile value goes into every body
// field, path parameter and credential header of every route, over the real gateway in front
// of the real extension; no answer may be a 5xx, and every error has the one JSON shape.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

constexpr const char *kGatewayRole = "authflow_gateway_hostile_test";

// hostile_json_values are JSON texts a client may send for any field.
std::vector<std::string> hostile_json_values() {
  const std::string deep = std::string(20000, '[') + std::string(20000, ']');
  return {R"("")",
          "\"" + std::string(300, 'a') + "\"",
          "\"" + std::string(5000, 'a') + "\"",
          "1e999999",
          "-1e999999",
          "1e-999999",
          "0",
          "-1",
          "9223372036854775808",
          "true",
          "null",
          "[]",
          "{}",
          deep,
          R"({"a": )" + deep + "}",
          R"("\u0000")",
          R"("\ud800")",
          R"("afr_x_y")",
          R"("afr_00000000000000000000000000000000_x")",
          "\"afa_" + std::string(300, 'z') + "\"",
          R"("check")"};
}

struct Route {
  http::verb method;
  std::string target;
  std::vector<std::string> fields;
  bool needs_key;
};

// routes is every route authflow.http serves with the body fields it reads.
std::vector<Route> routes() {
  return {{http::verb::post, "/api/v1/auth/cli", {"expires_in_millis", "anon_refresh_token"}, false},
          {http::verb::post, "/api/v1/auth/cli/poll", {"polling_code"}, false},
          {http::verb::post, "/api/v1/auth/cli/complete", {"login_code", "mode", "refresh_token", "merge"}, false},
          {http::verb::post, "/api/v1/auth/anonymous/sign-up", {}, false},
          {http::verb::post, "/api/v1/sessions", {"user_id", "handle", "client"}, true},
          {http::verb::get, "/api/v1/sessions/current", {}, false},
          {http::verb::delete_, "/api/v1/sessions/current", {}, false},
          {http::verb::post, "/api/v1/sessions/current/refresh", {}, false},
          {http::verb::get, "/api/v1/users/u/sessions", {}, true},
          {http::verb::delete_, "/api/v1/users/u/sessions", {}, true},
          {http::verb::get, "/healthz", {}, false}};
}

class HostileInput : public ::testing::Test {
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
        std::vector<std::string>{"--database", std::string("user=") + kGatewayRole, "--pool-size", "2"});
  }
  static void TearDownTestSuite() { gateway_.reset(); }

  // ExpectClientAnswer sends a request and checks it is no 5xx, and that an error is JSON.
  static void ExpectClientAnswer(http::verb method, const std::string &target, const std::string &body,
                                 std::multimap<std::string, std::string> headers, const std::string &what) {
    headers.emplace("Content-Type", "application/json");
    HttpClient client(gateway_->port());
    auto response = client.send(make_request(method, target, body, headers));
    EXPECT_LT(response.result_int(), 500) << what << ": " << response.body().substr(0, 200);
    if (response.result_int() >= 400) {
      const json parsed = json::parse(response.body(), nullptr, false);
      EXPECT_TRUE(!parsed.is_discarded() && parsed.contains("code") && parsed.contains("error"))
          << what << ": " << response.body().substr(0, 200);
    }
  }
  // ExpectRawClientAnswer writes raw bytes (for what a client library would refuse to send).
  static void ExpectRawClientAnswer(const std::string &bytes, int status, const std::string &what) {
    HttpClient client(gateway_->port());
    client.write_raw(bytes);
    auto response = client.read_response();
    EXPECT_EQ(response.result_int(), status) << what << ": " << response.body().substr(0, 200);
    const json parsed = json::parse(response.body(), nullptr, false);
    EXPECT_TRUE(!parsed.is_discarded() && parsed.contains("code")) << what;
  }
  static std::multimap<std::string, std::string> KeyHeaders(const Route &route) {
    if (!route.needs_key)
      return {};
    return {{"x-server-key", server_key_}};
  }

  static std::unique_ptr<GatewayProcess> gateway_;
  static std::string server_key_;
};

std::unique_ptr<GatewayProcess> HostileInput::gateway_;
std::string HostileInput::server_key_;

TEST_F(HostileInput, EveryBodyFieldOfEveryRoute) {
  for (const auto &route : routes()) {
    for (const auto &field : route.fields) {
      for (const auto &value : hostile_json_values()) {
        std::string body = "{\"" + field + "\": " + value + "}";
        if (field != "user_id" && route.target == "/api/v1/sessions")
          body = "{\"user_id\": \"did:plc:hostile\", \"" + field + "\": " + value + "}";
        ExpectClientAnswer(route.method, route.target, body, KeyHeaders(route),
                           route.target + " " + field + "=" + value.substr(0, 40));
      }
    }
  }
}

TEST_F(HostileInput, EveryBodyOfEveryRoute) {
  const std::string deep = std::string(20000, '[') + std::string(20000, ']');
  for (const auto &route : routes()) {
    for (const std::string &body :
         {std::string("{broken"), std::string("[]"), std::string("\"x\""), std::string("1e999999"), deep,
          std::string("{\"a\": ") + deep + "}", std::string("\xff\xfe"), std::string("{\"a\": \"\\u0000\"}"),
          std::string(70000, ' ')}) {
      ExpectClientAnswer(route.method, route.target, body, KeyHeaders(route),
                         route.target + " body " + body.substr(0, 20));
    }
  }
}

TEST_F(HostileInput, EveryCredentialAndTenantHeaderOfEveryRoute) {
  const std::vector<std::string> values = {"",
                                           "Bearer ",
                                           "Bearer afa_x",
                                           "afr_" + std::string(7000, 'r'),
                                           "afk_00000000000000000000000000000000_x",
                                           "\xff\xfe latin-1 \xe9",
                                           "authflow_refresh=; authflow_refresh=afr_x; =; ;;",
                                           std::string(7000, 'x')};
  // Every header SQL reads: the request families of its one list (x-stack-*, x-hexclave-* and
  // authflow's own names), besides authorization and cookie.
  std::vector<std::string> headers_read = {"authorization", "cookie"};
  {
    auto connection = connect();
    pqxx::work work(*connection);
    for (const auto &row :
         work.exec("SELECT n FROM authflow.http_header_names() AS h, unnest(h.names) AS n WHERE h.direction = 'request'"))
      headers_read.push_back(row[0].as<std::string>());
  }
  ASSERT_GE(headers_read.size(), 19u);
  for (const auto &route : routes()) {
    for (const auto &header : headers_read) {
      for (const auto &value : values) {
        auto headers = KeyHeaders(route);
        headers.erase(header);
        headers.emplace(header, value);
        ExpectClientAnswer(route.method, route.target, route.method == http::verb::post ? "{}" : "", headers,
                           route.target + " " + std::string(header) + ": " + value.substr(0, 20));
      }
    }
  }
}

TEST_F(HostileInput, EveryPathParameter) {
  const std::vector<std::string> user_ids = {
      "a%00b", "a%FFb",     "%C0%80", "%ED%A0%80",    std::string(300, 'u'), "%", "%zz", "a%2Fb",
      "..",    "%E2%82%AC", "%25",    "%F4%90%80%80", std::string(7000, 'u')};
  for (const auto &user_id : user_ids) {
    for (auto method : {http::verb::get, http::verb::delete_}) {
      ExpectClientAnswer(method, "/api/v1/users/" + user_id + "/sessions", "", {{"x-server-key", server_key_}},
                         "user_id " + user_id.substr(0, 20));
    }
  }
}

TEST_F(HostileInput, RawBytesTheDatabaseWouldRefuseAreAnsweredByTheGateway) {
  ExpectRawClientAnswer("GET /api/v1/users/a\xff/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400,
                        "raw 0xFF in the path");
  ExpectRawClientAnswer("GET /api/v1/sessions/current?x=\xc0\x80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400,
                        "an overlong NUL in the query");
  ExpectRawClientAnswer("POST /api/v1/auth/cli HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\n{\xff}", 400,
                        "raw 0xFF in the body");
}

TEST_F(HostileInput, OversizedHeadsAre414Or431) {
  ExpectRawClientAnswer("GET /api/v1/sessions/current HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(10240, 'a') +
                            ": x\r\n\r\n",
                        431, "a 10 KB header name");
  ExpectRawClientAnswer("GET /api/v1/sessions/current HTTP/1.1\r\nHost: 127.0.0.1\r\nx-a: " + std::string(9000, 'v') +
                            "\r\n\r\n",
                        431, "a 9 KB header value");
  ExpectRawClientAnswer("GET /api/v1/users/" + std::string(9000, 'u') + "/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        414, "a 9 KB target");
  ExpectRawClientAnswer("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nx-a: " + std::string(7000, 'v') +
                            "\r\nx-b: " + std::string(7000, 'v') + "\r\nx-c: " + std::string(7000, 'v') + "\r\n\r\n",
                        431, "a head over 16 KB");
  HttpClient client(gateway_->port());
  auto fine = client.send(make_request(http::verb::get, "/healthz", "", {{"x-a", std::string(7000, 'v')}}));
  EXPECT_EQ(fine.result_int(), 200) << "a 7 KB field is within the limits";
}

} // namespace
} // namespace authflow::testing
