// rate_limit_test.cpp: unauthenticated writes through the real gateway are limited by the
// address the gateway saw, which a client cannot choose by sending the header itself.
#include "database.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;

TEST(RateLimit, SignUpsAreLimitedByTheConnectionsAddressNotByAHeader) {
  const std::string tenant = unique_name("limits");
  {
    auto connection = connect();
    pqxx::work work(*connection);
    work.exec_params("SELECT authflow.tenant_set($1)", tenant);
    work.exec_params("SELECT authflow.rate_limit_set('anonymous_sign_up', 2, NULL, $1)", tenant);
    work.commit();
  }
  GatewayProcess gateway({"--pool-size", "2"});
  auto sign_up = [&](const std::string &claimed_address) {
    HttpClient client(gateway.port());
    return client.send(make_request(http::verb::post, "/api/v1/auth/anonymous/sign-up", "{}",
                                    {{"Content-Type", "application/json"},
                                     {"x-tenant-id", tenant},
                                     {"X-Authflow-Client-Address", claimed_address}}));
  };
  EXPECT_EQ(sign_up("203.0.113.1").result_int(), 200);
  EXPECT_EQ(sign_up("203.0.113.2").result_int(), 200);
  const Response refused = sign_up("203.0.113.3");
  EXPECT_EQ(refused.result_int(), 429) << "a client that names another address in the header is still 127.0.0.1";
  EXPECT_GE(std::stoi(std::string(refused[http::field::retry_after])), 1);
  EXPECT_EQ(nlohmann::json::parse(refused.body())["code"], "TOO_MANY_REQUESTS");
  auto connection = connect();
  pqxx::work work(*connection);
  EXPECT_EQ(work.exec_params1("SELECT count(*) FROM authflow.users u JOIN authflow.tenants t USING (tenant_id) "
                              "WHERE t.name = $1",
                              tenant)[0]
                .as<int>(),
            2)
      << "the refused sign-up created nobody";
  EXPECT_EQ(work.exec_params1("SELECT string_agg(subject, ',' ORDER BY subject) FROM authflow.rate_counters c "
                              "JOIN authflow.tenants t USING (tenant_id) WHERE t.name = $1",
                              tenant)[0]
                .as<std::string>(),
            "127.0.0.1")
      << "counted under the connection's address";
}

} // namespace
} // namespace authflow::testing
