// server_log_test.cpp: with PostgreSQL logging every statement (log_statement = 'all',
// log_min_duration_statement = 0, as many deployments run), a full CLI login and a session cycle
// through the real gateway leave no token, code or key in the server's log: the role grant_http
// prepares has parameter logging off.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

constexpr const char *kRole = "authflow_gateway_log_test";

std::string server_log_path() {
  const char *dir = std::getenv("AUTHFLOW_CLUSTER_DIR");
  return dir == nullptr ? std::string() : std::string(dir) + "/postgres.log";
}

std::string read_from(const std::string &path, std::streamoff offset) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(offset);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::streamoff file_size(const std::string &path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  return file ? static_cast<std::streamoff>(file.tellg()) : 0;
}

// set_statement_logging turns logging of every statement on or off for the whole cluster and
// waits (bounded) until a new connection sees the change.
void set_statement_logging(bool on) {
  {
    auto connection = connect();
    pqxx::nontransaction work(*connection);
    work.exec(on ? "ALTER SYSTEM SET log_statement = 'all'" : "ALTER SYSTEM RESET log_statement");
    work.exec(on ? "ALTER SYSTEM SET log_min_duration_statement = 0" : "ALTER SYSTEM RESET log_min_duration_statement");
    work.exec("SELECT pg_reload_conf()");
  }
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto connection = connect();
    pqxx::nontransaction work(*connection);
    if ((work.exec1("SHOW log_statement")[0].as<std::string>() == "all") == on)
      return;
    std::this_thread::yield();
  }
  FAIL() << "the server did not take the new log settings";
}

// secret_of is the secret part of a token: what follows "<prefix>_<row id>_" (the secret's own
// base64url may hold '_' too).
std::string secret_of(const std::string &token) { return token.substr(37); }

TEST(ServerLog, NoSecretReachesTheServerLogThroughTheGateway) {
  const std::string log = server_log_path();
  ASSERT_FALSE(log.empty()) << "run under scripts/cluster exec";
  std::string server_key;
  {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec(std::string("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '") + kRole +
              "') THEN CREATE ROLE " + kRole + " LOGIN; END IF; END $$");
    work.exec_params("SELECT authflow.grant_http($1)", kRole);
    server_key = work.exec1("SELECT authflow.api_key_create()")[0].as<std::string>();
    work.commit();
  }
  set_statement_logging(true);
  const std::streamoff start = file_size(log);
  std::vector<std::string> secrets = {server_key};
  {
    GatewayProcess gateway({"--database", std::string("user=") + kRole, "--pool-size", "2"});
    auto send = [&](http::verb method, const std::string &target, const json &body,
                    std::multimap<std::string, std::string> headers) {
      HttpClient client(gateway.port());
      headers.emplace("Content-Type", "application/json");
      return client.send(make_request(method, target, body.is_null() ? "" : body.dump(), headers));
    };
    // A session cycle: create (server key), validate (Bearer), refresh (header and cookie), log out.
    auto created = send(http::verb::post, "/api/v1/sessions", {{"user_id", unique_name("did:plc:log")}},
                        {{"x-server-key", server_key}});
    ASSERT_EQ(created.result_int(), 201) << created.body();
    const json session = json::parse(created.body());
    const std::string refresh = session["refresh_token"], access = session["access_token"];
    secrets.insert(secrets.end(), {refresh, access});
    EXPECT_EQ(send(http::verb::get, "/api/v1/sessions/current", nullptr, {{"Authorization", "Bearer " + access}})
                  .result_int(),
              200);
    auto refreshed = send(http::verb::post, "/api/v1/sessions/current/refresh", nullptr, {{"x-refresh-token", refresh}});
    ASSERT_EQ(refreshed.result_int(), 200) << refreshed.body();
    secrets.push_back(json::parse(refreshed.body())["access_token"]);
    // A CLI login: start, poll, check, complete with the refresh token, poll to success.
    auto started = send(http::verb::post, "/api/v1/auth/cli", json::object(), {});
    ASSERT_EQ(started.result_int(), 200) << started.body();
    const json attempt = json::parse(started.body());
    secrets.insert(secrets.end(), {attempt["polling_code"], attempt["login_code"]});
    send(http::verb::post, "/api/v1/auth/cli/poll", {{"polling_code", attempt["polling_code"]}}, {});
    send(http::verb::post, "/api/v1/auth/cli/complete", {{"login_code", attempt["login_code"]}, {"mode", "check"}}, {});
    auto completed = send(http::verb::post, "/api/v1/auth/cli/complete",
                          {{"login_code", attempt["login_code"]}, {"refresh_token", refresh}}, {});
    ASSERT_EQ(completed.result_int(), 200) << completed.body();
    auto success = send(http::verb::post, "/api/v1/auth/cli/poll", {{"polling_code", attempt["polling_code"]}}, {});
    ASSERT_EQ(success.result_int(), 201) << success.body();
    const json cli = json::parse(success.body());
    secrets.insert(secrets.end(), {cli["refresh_token"], cli["access_token"]});
    EXPECT_EQ(send(http::verb::delete_, "/api/v1/sessions/current", nullptr,
                   {{"Cookie", "authflow_refresh=" + refresh}})
                  .result_int(),
              204);
  }
  set_statement_logging(false);

  const std::string written = read_from(log, start);
  // The log did record the gateway's statements: the check below is not vacuous.
  EXPECT_NE(written.find("authflow_http"), std::string::npos) << "statement logging did not take effect";
  for (const std::string &secret : secrets)
    EXPECT_EQ(written.find(secret_of(secret)), std::string::npos)
        << "a secret reached the server log (its first characters: " << secret.substr(0, 6) << ")";
}

} // namespace
} // namespace authflow::testing
