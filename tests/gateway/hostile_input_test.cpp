// hostile_input_test.cpp: every client mistake is a 4xx. A hostile value goes into every body
// field, path parameter and credential header of every route, over the real gateway in front
// of the real extension; no answer may be a 5xx, and every error has the one JSON shape.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <memory>
#include <set>
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

// What a route needs to get past its credential check, so that hostile values reach what it
// reads next.
enum class Credential { none, server_key, access_token };

struct Route {
  http::verb method;
  std::string target;
  std::vector<std::string> fields;
  Credential credential;
  bool form = false; // the RFC 8628 endpoints take form-encoded bodies and answer with OAuth errors
};

constexpr const char *kSessionId = "01a23546-cff5-72c5-a6b0-ac3c84d40c30";

// routes is every route authflow.http serves with the body fields it reads (the test
// EveryServedRouteIsHere holds it to authflow.http_routes()).
std::vector<Route> routes() {
  const std::string session = std::string("/") + kSessionId;
  return {{http::verb::post, "/api/v1/auth/cli", {"expires_in_millis", "anon_refresh_token"}, Credential::none},
          {http::verb::post, "/api/v1/auth/cli/poll", {"polling_code"}, Credential::none},
          {http::verb::post,
           "/api/v1/auth/cli/complete",
           {"login_code", "mode", "refresh_token", "merge"},
           Credential::none},
          {http::verb::post, "/api/v1/auth/anonymous/sign-up", {}, Credential::none},
          {http::verb::post,
           "/api/v1/sessions",
           {"user_id", "handle", "client", "client_address", "user_agent"},
           Credential::server_key},
          {http::verb::get, "/api/v1/sessions", {}, Credential::access_token},
          {http::verb::delete_, "/api/v1/sessions", {}, Credential::access_token},
          {http::verb::delete_, "/api/v1/sessions" + session, {}, Credential::access_token},
          {http::verb::get, "/api/v1/sessions/current", {}, Credential::none},
          {http::verb::delete_, "/api/v1/sessions/current", {}, Credential::none},
          {http::verb::post, "/api/v1/sessions/current/refresh", {}, Credential::none},
          {http::verb::get, "/api/v1/users/u/sessions", {}, Credential::server_key},
          {http::verb::delete_, "/api/v1/users/u/sessions", {}, Credential::server_key},
          {http::verb::delete_, "/api/v1/users/u/sessions" + session, {}, Credential::server_key},
          {http::verb::post, "/oauth/device_authorization", {"client_id", "scope"}, Credential::none, true},
          {http::verb::post,
           "/oauth/token",
           {"grant_type", "device_code", "client_id", "refresh_token", "scope"},
           Credential::none,
           true},
          {http::verb::post, "/api/v1/device/lookup", {"user_code"}, Credential::none},
          {http::verb::post, "/api/v1/device/approve", {"user_code", "refresh_token"}, Credential::none},
          {http::verb::post, "/api/v1/device/deny", {"user_code"}, Credential::none},
          {http::verb::get, "/healthz", {}, Credential::none}};
}

// percent_encoded escapes every byte but unreserved ones (a form field's value).
std::string percent_encoded(const std::string &text) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// hostile_session_ids are path segments a client may send for {session_id}.
std::vector<std::string> hostile_session_ids() {
  return {"..",
          "%00",
          "%zz",
          "%",
          "current",
          std::string(300, 'f'),
          std::string(7000, 'f'),
          "00000000-0000-0000-0000-000000000000",
          "01A23546-CFF5-72C5-A6B0-AC3C84D40C30",
          "{01a23546-cff5-72c5-a6b0-ac3c84d40c30}",
          "01a23546cff572c5a6b0ac3c84d40c30",
          "01a23546-cff5-72c5-a6b0-ac3c84d40c3g",
          "01a23546-cff5-72c5-a6b0-ac3c84d40c30%00",
          "%E2%82%AC",
          "-1",
          "1e999999"};
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
    access_token_ =
        work.exec1("SELECT access_token FROM authflow.session_create('did:plc:hostile-holder')")[0].as<std::string>();
    work.commit();
    gateway_ = std::make_unique<GatewayProcess>(
        std::vector<std::string>{"--database", std::string("user=") + kGatewayRole, "--pool-size", "2"});
  }
  static void TearDownTestSuite() { gateway_.reset(); }

  // ExpectClientAnswer sends a request and checks it is no 5xx, and that an error is JSON: the
  // one shape {code, error}, or on the RFC 8628 endpoints (/oauth/) also the RFC's
  // {error, error_description}.
  static void ExpectClientAnswer(http::verb method, const std::string &target, const std::string &body,
                                 std::multimap<std::string, std::string> headers, const std::string &what) {
    const bool oauth = target.rfind("/oauth/", 0) == 0;
    headers.emplace("Content-Type", oauth ? "application/x-www-form-urlencoded" : "application/json");
    HttpClient client(gateway_->port());
    auto response = client.send(make_request(method, target, body, headers));
    EXPECT_LT(response.result_int(), 500) << what << ": " << response.body().substr(0, 200);
    if (response.result_int() >= 400) {
      const json parsed = json::parse(response.body(), nullptr, false);
      // The gateway's own refusals (413, 414, 431) have the one shape on every route.
      EXPECT_TRUE(!parsed.is_discarded() && parsed.contains("error") &&
                  (parsed.contains("code") || (oauth && parsed.contains("error_description"))))
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
    if (route.credential == Credential::server_key)
      return {{"x-server-key", server_key_}};
    if (route.credential == Credential::access_token)
      return {{"authorization", "Bearer " + access_token_}};
    return {};
  }

  static std::unique_ptr<GatewayProcess> gateway_;
  static std::string server_key_;
  static std::string access_token_;
};

std::unique_ptr<GatewayProcess> HostileInput::gateway_;
std::string HostileInput::server_key_;
std::string HostileInput::access_token_;

TEST_F(HostileInput, EveryServedRouteIsHere) {
  std::set<std::string> covered, served;
  auto connection = connect();
  pqxx::work work(*connection);
  for (const auto &route : routes()) {
    const std::string method(http::to_string(route.method));
    auto found = work.exec_params("SELECT template FROM authflow.http_route($1)", route.target);
    ASSERT_EQ(found.size(), 1u) << route.target;
    covered.insert(method + " " + found[0][0].as<std::string>());
  }
  for (const auto &row : work.exec("SELECT m || ' ' || template FROM authflow.http_routes(), unnest(methods) AS m"))
    served.insert(row[0].as<std::string>());
  EXPECT_EQ(covered, served) << "every route and method authflow.http serves gets the hostile values";
}

TEST_F(HostileInput, EveryBodyFieldOfEveryRoute) {
  for (const auto &route : routes()) {
    for (const auto &field : route.fields) {
      for (const auto &value : hostile_json_values()) {
        std::string body = "{\"" + field + "\": " + value + "}";
        if (field != "user_id" && route.target == "/api/v1/sessions")
          body = "{\"user_id\": \"did:plc:hostile\", \"" + field + "\": " + value + "}";
        if (route.form) // the JSON text as the field's value, percent-encoded, and raw
          body = field + "=" + percent_encoded(value) + "&" + field + "2=" + value;
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
    for (const auto &row : work.exec(
             "SELECT n FROM authflow.http_header_names() AS h, unnest(h.names) AS n WHERE h.direction = 'request'"))
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
    ExpectClientAnswer(http::verb::delete_, "/api/v1/users/" + user_id + "/sessions/" + kSessionId, "",
                       {{"x-server-key", server_key_}}, "user_id " + user_id.substr(0, 20) + " with a session id");
  }
  for (const auto &session_id : hostile_session_ids()) {
    ExpectClientAnswer(http::verb::delete_, "/api/v1/sessions/" + session_id, "",
                       {{"authorization", "Bearer " + access_token_}}, "session_id " + session_id.substr(0, 20));
    ExpectClientAnswer(http::verb::delete_, "/api/v1/users/u/sessions/" + session_id, "",
                       {{"x-server-key", server_key_}}, "users/u session_id " + session_id.substr(0, 20));
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
