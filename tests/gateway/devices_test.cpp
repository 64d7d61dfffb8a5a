// devices_test.cpp: the "active devices" over the real gateway, over loopback sockets: what a
// session records of the client that made it (the address the gateway saw, taking
// X-Forwarded-For only from a configured trusted proxy, and the User-Agent), the list of a user's
// sessions, and signing devices out, with the notification a revocation sends.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using Headers = std::multimap<std::string, std::string>;

constexpr const char *kGatewayRole = "authflow_gateway_devices_test";

// Tokens of one session.
struct Tokens {
  std::string session_id, access, refresh;
};

// gateway_flags creates the EXECUTE-only role the gateways of this file connect as, and the flags
// that connect as it.
std::vector<std::string> gateway_flags(std::vector<std::string> extra = {}) {
  auto connection = connect();
  pqxx::work work(*connection);
  work.exec(std::string("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '") + kGatewayRole +
            "') THEN CREATE ROLE " + kGatewayRole + " LOGIN; END IF; END $$");
  work.exec_params("SELECT authflow.grant_http($1)", kGatewayRole);
  work.commit();
  std::vector<std::string> flags = {"--database", std::string("user=") + kGatewayRole, "--pool-size", "2"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

Response Send(unsigned short port, http::verb method, const std::string &target, const Headers &headers = {},
              const std::string &local_address = "") {
  HttpClient client(port, local_address);
  return client.send(make_request(method, target, method == http::verb::post ? "{}" : "", headers));
}

// SignUp makes an anonymous user over HTTP; its tokens.
Tokens SignUp(unsigned short port, const Headers &headers, const std::string &local_address = "") {
  auto response = Send(port, http::verb::post, "/api/v1/auth/anonymous/sign-up", headers, local_address);
  EXPECT_EQ(response.result_int(), 200) << response.body();
  const json body = json::parse(response.body());
  return {body["session_id"], body["access_token"], body["refresh_token"]};
}

// Devices is GET /api/v1/sessions with an access token: the sessions array.
json Devices(unsigned short port, const std::string &access) {
  auto response = Send(port, http::verb::get, "/api/v1/sessions", {{"Authorization", "Bearer " + access}});
  EXPECT_EQ(response.result_int(), 200) << response.body();
  return json::parse(response.body())["sessions"];
}

// Current is the entry of the token's own session in its list.
json Current(unsigned short port, const std::string &access) {
  for (const auto &device : Devices(port, access))
    if (device["is_current"] == true)
      return device;
  ADD_FAILURE() << "no session is marked current";
  return json::object();
}

// RecordedAddress signs up with these headers and reads back the address its session recorded.
std::string RecordedAddress(unsigned short port, Headers headers, const std::string &local_address = "") {
  const Tokens tokens = SignUp(port, headers, local_address);
  const json current = Current(port, tokens.access);
  return current["client_address"].is_string() ? current["client_address"].get<std::string>() : "null";
}

// CreateSessions makes n sessions of a user in SQL (for the sign-out tests).
std::vector<Tokens> CreateSessions(const std::string &user, int n) {
  auto connection = connect();
  pqxx::work work(*connection);
  std::vector<Tokens> made;
  for (int i = 0; i < n; ++i) {
    auto row = work.exec_params1(
        "SELECT session_id::text, access_token, refresh_token FROM authflow.session_create($1)", user);
    made.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
  }
  work.commit();
  return made;
}

int CurrentStatus(unsigned short port, const std::string &access) {
  return Send(port, http::verb::get, "/api/v1/sessions/current", {{"Authorization", "Bearer " + access}}).result_int();
}

// Without trusted proxies, the address is the connection's whatever the client claims.
TEST(Devices, ASessionRecordsTheConnectionsAddressAndUserAgentWhateverTheClientClaims) {
  GatewayProcess gateway(gateway_flags());
  const Tokens anon = SignUp(gateway.port(), {{"User-Agent", "devices-test/1.0 (X11)"},
                                              {"X-Forwarded-For", "203.0.113.9"},
                                              {"X-Authflow-Client-Address", "198.51.100.1"}});
  const json devices = Devices(gateway.port(), anon.access);
  ASSERT_EQ(devices.size(), 1u) << devices.dump();
  EXPECT_EQ(devices[0]["session_id"], anon.session_id);
  EXPECT_EQ(devices[0]["is_current"], true);
  EXPECT_EQ(devices[0]["client_address"], "127.0.0.1") << "neither X-Forwarded-For nor the internal header is believed";
  EXPECT_EQ(devices[0]["user_agent"], "devices-test/1.0 (X11)");
  EXPECT_EQ(devices[0]["kind"], "anonymous");
  for (const char *field : {"created_at", "refreshed_at", "expires_at", "access_expires_at"})
    EXPECT_TRUE(devices[0].contains(field)) << field;
  const std::string body = devices.dump();
  EXPECT_EQ(body.find(anon.access.substr(37)), std::string::npos) << "no secret in the list";
  EXPECT_EQ(body.find(anon.refresh.substr(37)), std::string::npos) << "no secret in the list";

  // From another loopback address, that address is recorded.
  EXPECT_EQ(RecordedAddress(gateway.port(), {}, "127.0.0.3"), "127.0.0.3");

  const std::string long_agent(3000, 'a');
  EXPECT_EQ(Current(gateway.port(), SignUp(gateway.port(), {{"User-Agent", long_agent}}).access)["user_agent"],
            long_agent.substr(0, 512))
      << "the user agent is kept to 512 characters";
}

// The CLI's session (the poll that succeeds) records the CLI's client; the browser's stays its own.
TEST(Devices, TheCliSessionRecordsTheCliAndIsListedBesideTheBrowsers) {
  GatewayProcess gateway(gateway_flags());
  const std::string user = unique_name("did:plc:devices-cli");
  const Tokens browser = CreateSessions(user, 1)[0];
  auto started = Send(gateway.port(), http::verb::post, "/api/v1/auth/cli", {{"Content-Type", "application/json"}});
  ASSERT_EQ(started.result_int(), 200) << started.body();
  const json attempt = json::parse(started.body());
  HttpClient completing(gateway.port());
  auto completed = completing.send(
      make_request(http::verb::post, "/api/v1/auth/cli/complete",
                   json({{"login_code", attempt["login_code"]}, {"refresh_token", browser.refresh}}).dump(),
                   {{"Content-Type", "application/json"}}));
  ASSERT_EQ(completed.result_int(), 200) << completed.body();
  HttpClient polling(gateway.port(), "127.0.0.5");
  auto polled = polling.send(make_request(http::verb::post, "/api/v1/auth/cli/poll",
                                          json({{"polling_code", attempt["polling_code"]}}).dump(),
                                          {{"Content-Type", "application/json"}, {"User-Agent", "authflow-cli/3.1"}}));
  ASSERT_EQ(polled.result_int(), 201) << polled.body();
  const std::string cli_access = json::parse(polled.body())["access_token"];

  const json devices = Devices(gateway.port(), cli_access);
  ASSERT_EQ(devices.size(), 2u) << devices.dump();
  EXPECT_EQ(devices[0]["session_id"], browser.session_id) << "oldest first";
  EXPECT_EQ(devices[0]["is_current"], false);
  EXPECT_TRUE(devices[0]["client_address"].is_null()) << "made in SQL without an address";
  EXPECT_EQ(devices[1]["is_current"], true);
  EXPECT_EQ(devices[1]["kind"], "cli");
  EXPECT_EQ(devices[1]["client_address"], "127.0.0.5");
  EXPECT_EQ(devices[1]["user_agent"], "authflow-cli/3.1");
}

// Signing out one device, a device of someone else, and every other device; the route labels.
TEST(Devices, SignOutOneDeviceOrAllOthers) {
  GatewayProcess gateway(gateway_flags());
  const auto port = gateway.port();
  const std::string me = unique_name("did:plc:devices-mine"), them = unique_name("did:plc:devices-theirs");
  const auto mine = CreateSessions(me, 4);
  const auto theirs = CreateSessions(them, 1);
  const Headers bearer = {{"Authorization", "Bearer " + mine[0].access}};

  auto foreign = Send(port, http::verb::delete_, "/api/v1/sessions/" + theirs[0].session_id, bearer);
  EXPECT_EQ(foreign.result_int(), 404);
  EXPECT_EQ(json::parse(foreign.body()), json({{"code", "SESSION_NOT_FOUND"}, {"error", "no such session"}}));
  EXPECT_EQ(CurrentStatus(port, theirs[0].access), 200) << "another user's session is untouched";

  auto malformed = Send(port, http::verb::delete_, "/api/v1/sessions/12345", bearer);
  EXPECT_EQ(malformed.result_int(), 400);
  EXPECT_EQ(json::parse(malformed.body())["code"], "SCHEMA_ERROR");
  EXPECT_EQ(Send(port, http::verb::delete_, "/api/v1/sessions/" + mine[1].session_id).result_int(), 401)
      << "no access token, no sign-out";
  EXPECT_EQ(CurrentStatus(port, mine[1].access), 200);

  EXPECT_EQ(Send(port, http::verb::delete_, "/api/v1/sessions/" + mine[1].session_id, bearer).result_int(), 204);
  EXPECT_EQ(CurrentStatus(port, mine[1].access), 401) << "the device signed out";
  EXPECT_EQ(Send(port, http::verb::post, "/api/v1/sessions/current/refresh", {{"x-refresh-token", mine[1].refresh}})
                .result_int(),
            401)
      << "its refresh token is dead too";
  EXPECT_EQ(Devices(port, mine[0].access).size(), 3u);

  auto others = Send(port, http::verb::delete_, "/api/v1/sessions", bearer);
  ASSERT_EQ(others.result_int(), 200) << others.body();
  EXPECT_EQ(json::parse(others.body()), json({{"deleted", 2}}));
  EXPECT_EQ(CurrentStatus(port, mine[2].access), 401);
  EXPECT_EQ(CurrentStatus(port, mine[3].access), 401);
  EXPECT_EQ(CurrentStatus(port, mine[0].access), 200) << "the current device stays signed in";
  EXPECT_EQ(CurrentStatus(port, theirs[0].access), 200);

  // The server-key route signs out one session of a user by ids.
  std::string key;
  {
    auto connection = connect();
    pqxx::work work(*connection);
    key = work.exec1("SELECT authflow.api_key_create()")[0].as<std::string>();
    work.commit();
  }
  EXPECT_EQ(Send(port, http::verb::delete_, "/api/v1/users/" + me + "/sessions/" + theirs[0].session_id,
                 {{"x-server-key", key}})
                .result_int(),
            404)
      << "a session of another user";
  EXPECT_EQ(CurrentStatus(port, theirs[0].access), 200);
  EXPECT_EQ(Send(port, http::verb::delete_, "/api/v1/users/" + them + "/sessions/" + theirs[0].session_id,
                 {{"x-server-key", key}})
                .result_int(),
            204);
  EXPECT_EQ(CurrentStatus(port, theirs[0].access), 401);

  const std::string metrics = get_once(port, "/metrics").body();
  for (const auto *id : {&mine[1].session_id, &theirs[0].session_id})
    EXPECT_EQ(metrics.find(*id), std::string::npos) << "no session id in a metric label";
  EXPECT_GE(metric_value(port, "authflow_gateway_requests_total{route=\"DELETE /api/v1/sessions/{session_id}\","
                               "status=\"204\"}"),
            1.0);
  EXPECT_GE(metric_value(port, "authflow_gateway_requests_total{route=\"DELETE /api/v1/users/{user_id}/sessions/"
                               "{session_id}\",status=\"204\"}"),
            1.0);
  EXPECT_GE(metric_value(port, "authflow_gateway_requests_total{route=\"GET /api/v1/sessions\",status=\"200\"}"), 1.0);
}

// A device signed out over HTTP is announced on the tenant's channel, after the commit.
TEST(Devices, ASignOutIsNotifiedOnTheTenantsChannel) {
  GatewayProcess gateway(gateway_flags());
  const std::string user = unique_name("did:plc:devices-notify");
  const auto sessions = CreateSessions(user, 2);
  auto listener = connect();
  std::string channel;
  {
    pqxx::nontransaction work(*listener);
    channel = work.exec("SELECT authflow.notify_channel()")[0][0].as<std::string>();
    work.exec("LISTEN " + listener->quote_name(channel));
  }
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection &connection, const std::string &channel)
        : pqxx::notification_receiver(connection, channel) {}
    void operator()(const std::string &payload, int) override { payloads.push_back(json::parse(payload)); }
    std::vector<json> payloads;
  } receiver(*listener, channel);

  EXPECT_EQ(Send(gateway.port(), http::verb::delete_, "/api/v1/sessions/" + sessions[1].session_id,
                 {{"Authorization", "Bearer " + sessions[0].access}})
                .result_int(),
            204);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto mine = [&] {
    for (const auto &payload : receiver.payloads)
      if (payload.value("user_id", "") == user)
        return payload;
    return json();
  };
  while (mine().is_null() && std::chrono::steady_clock::now() < deadline)
    listener->await_notification(1, 0);
  const json payload = mine();
  ASSERT_FALSE(payload.is_null()) << "the sign-out was notified";
  EXPECT_EQ(payload["event"], "session_revoked");
  EXPECT_EQ(payload["session_id"], sessions[1].session_id);
  EXPECT_EQ(payload.dump().find(sessions[1].refresh.substr(37)), std::string::npos) << "no secret in a notification";
}

// With a trusted proxy in front, X-Forwarded-For names the client: the right-most address that
// is not itself a trusted proxy; from any other peer it is ignored.
TEST(TrustedProxies, OnlyATrustedPeersForwardedForNamesTheClient) {
  GatewayProcess gateway(gateway_flags({"--trusted-proxies", "127.0.0.1"}));
  const auto port = gateway.port();
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "198.51.100.7, 203.0.113.9"}}), "203.0.113.9")
      << "the address the trusted proxy appended, not what the client wrote left of it";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "203.0.113.9"}}, "127.0.0.2"), "127.0.0.2")
      << "from an untrusted peer (127.0.0.2) it is ignored";
  EXPECT_EQ(RecordedAddress(port, {}), "127.0.0.1") << "a trusted peer without the header is the client";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-For", "203.0.113.9"}}),
            "203.0.113.9")
      << "repeated fields are one list";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "[2001:DB8::5]:443"}}), "2001:db8::5");
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "192.0.2.1:8080"}}), "192.0.2.1");
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "::ffff:192.0.2.2"}}), "192.0.2.2") << "IPv4-mapped: IPv4";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "fe80::1%eth0"}}), "fe80::1") << "without its zone";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "garbage, 192.0.2.3"}}), "192.0.2.3")
      << "what is left of the client's address is never read";
  // A header that cannot be read leaves the peer's address, never an error.
  for (const std::string &malformed :
       {std::string("not-an-address"), std::string(""), std::string("192.0.2.3, unknown"), std::string(" , "),
        std::string("192.0.2.300"), std::string("[2001:db8::1"), std::string("1.2.3.4:99999"),
        std::string("2001:db8::/32"), std::string(7000, '9'), std::string("\xff\xfe")}) {
    EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", malformed}}), "127.0.0.1") << malformed.substr(0, 30);
  }
}

// The environment variable, a chain of proxies (a network among them), and the rate limits.
TEST(TrustedProxies, AChainOfTrustedProxiesFromTheEnvironmentAndTheRateLimits) {
  ::setenv("AUTHFLOW_TRUSTED_PROXIES", "127.0.0.1/32, 10.1.0.0/16 ::1", 1);
  std::unique_ptr<GatewayProcess> gateway;
  try {
    gateway = std::make_unique<GatewayProcess>(gateway_flags());
  } catch (...) {
    ::unsetenv("AUTHFLOW_TRUSTED_PROXIES");
    throw;
  }
  ::unsetenv("AUTHFLOW_TRUSTED_PROXIES");
  const auto port = gateway->port();
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.2.3"}}), "203.0.113.9")
      << "past the trusted hop 10.1.2.3";
  EXPECT_EQ(RecordedAddress(port, {{"X-Forwarded-For", "10.1.2.4, 10.1.2.3"}}), "10.1.2.4")
      << "every hop trusted: the left-most";

  const std::string tenant = unique_name("devices-limits");
  {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec_params("SELECT authflow.tenant_set($1)", tenant);
    work.exec_params("SELECT authflow.rate_limit_set('anonymous_sign_up', 1, NULL, $1)", tenant);
    work.commit();
  }
  auto sign_up = [&](const std::string &forwarded) {
    return Send(port, http::verb::post, "/api/v1/auth/anonymous/sign-up",
                {{"x-tenant-id", tenant}, {"X-Forwarded-For", forwarded}})
        .result_int();
  };
  EXPECT_EQ(sign_up("198.51.100.20"), 200);
  EXPECT_EQ(sign_up("198.51.100.21"), 200) << "another client behind the same proxy has its own limit";
  EXPECT_EQ(sign_up("198.51.100.20"), 429) << "the first client is over its limit";
  auto connection = connect();
  pqxx::work work(*connection);
  EXPECT_EQ(work.exec_params1("SELECT string_agg(subject, ',' ORDER BY subject) FROM authflow.rate_counters c "
                              "JOIN authflow.tenants t USING (tenant_id) WHERE t.name = $1",
                              tenant)[0]
                .as<std::string>(),
            "198.51.100.20,198.51.100.21")
      << "counted under the forwarded addresses, not the proxy's";
}

} // namespace
} // namespace authflow::testing
