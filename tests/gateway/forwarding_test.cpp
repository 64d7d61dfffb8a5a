// forwarding_test.cpp: what reaches the SQL function, what comes back, and database errors.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>

namespace authflow::testing {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

class Forwarding : public ::testing::Test {
protected:
  // SetUpTestSuite starts one gateway for the whole suite.
  static void SetUpTestSuite() {
    gateway_ = std::make_unique<GatewayProcess>(
        std::vector<std::string>{"--http-function", test_function(), "--pool-size", "2", "--retries", "3"});
  }
  // TearDownTestSuite stops it.
  static void TearDownTestSuite() { gateway_.reset(); }

  // port is the suite's gateway port.
  static unsigned short port() { return gateway_->port(); }

  static std::unique_ptr<GatewayProcess> gateway_;
};

std::unique_ptr<GatewayProcess> Forwarding::gateway_;

TEST_F(Forwarding, ForwardsMethodTargetHeadersAndBody) {
  HttpClient client(port());
  auto request = make_request(http::verb::post, "/echo/path?x=1&y=two", R"({"k":"v"})",
                              {{"X-Custom", "A"},
                               {"X-Custom", "B"},
                               {"Cookie", "a=1"},
                               {"Cookie", "b=2"},
                               {"X-Mixed-Case", "Value Kept"},
                               {"Content-Type", "application/json"}});
  auto response = client.send(request);
  ASSERT_EQ(response.result_int(), 201) << response.body();
  auto echo = json::parse(response.body());
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["target"], "/echo/path?x=1&y=two");
  EXPECT_EQ(echo["body"], R"({"k":"v"})");
  EXPECT_EQ(echo["headers"]["x-custom"], "A, B");
  EXPECT_EQ(echo["headers"]["cookie"], "a=1; b=2");
  EXPECT_EQ(echo["headers"]["x-mixed-case"], "Value Kept");
  EXPECT_EQ(echo["headers"]["content-type"], "application/json");
  EXPECT_EQ(echo["headers"]["host"], "127.0.0.1");
  EXPECT_FALSE(echo["headers"].contains("X-Custom"));
}

TEST_F(Forwarding, RequestWithoutBodySendsEmptyString) {
  auto response = get_once(port(), "/echo");
  ASSERT_EQ(response.result_int(), 201);
  auto echo = json::parse(response.body());
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["body"], "");
}

TEST_F(Forwarding, WritesStatusHeadersAndEverySetCookie) {
  auto response = get_once(port(), "/echo");
  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(response["x-echo"], "yes");
  std::vector<std::string> cookies;
  for (const auto &field : response) {
    if (field.name() == http::field::set_cookie)
      cookies.emplace_back(field.value());
  }
  EXPECT_EQ(cookies, (std::vector<std::string>{"a=1; Path=/; HttpOnly", "b=2; Path=/"}));
  EXPECT_EQ(response.count("x-authflow-route"), 0u) << "the route header is the gateway's, not the client's";
  EXPECT_EQ(response[http::field::content_length], std::to_string(response.body().size()));
}

TEST_F(Forwarding, NullHeadersAndBodyGiveAnEmptyAnswer) {
  auto response = get_once(port(), "/empty");
  EXPECT_EQ(response.result_int(), 204);
  EXPECT_EQ(response.body(), "");
}

TEST_F(Forwarding, KeepAliveServesSeveralRequestsOnOneConnection) {
  HttpClient client(port());
  for (int i = 0; i < 5; ++i) {
    auto response = client.get("/echo?i=" + std::to_string(i));
    ASSERT_EQ(response.result_int(), 201);
    EXPECT_TRUE(response.keep_alive());
    EXPECT_EQ(json::parse(response.body())["target"], "/echo?i=" + std::to_string(i));
  }
}

TEST_F(Forwarding, SqlErrorIs500InternalError) {
  auto response = get_once(port(), "/bug");
  EXPECT_EQ(response.result_int(), 500);
  EXPECT_EQ(response["x-known-error"], "INTERNAL_ERROR");
  EXPECT_EQ(json::parse(response.body()), json({{"code", "INTERNAL_ERROR"}, {"error", "internal error"}}));
}

TEST_F(Forwarding, HeaderWithLineBreakFromSqlIsRefused) {
  auto response = get_once(port(), "/bad-headers");
  EXPECT_EQ(response.result_int(), 500);
  EXPECT_EQ(response.count("x-bad"), 0u);
  EXPECT_EQ(response.count(http::field::set_cookie), 0u);
}

TEST_F(Forwarding, HeaderValuesFromSqlAreStringsListsOrNumbers) {
  auto numbers = get_once(port(), "/shaped-headers?shape=numbers");
  ASSERT_EQ(numbers.result_int(), 200);
  EXPECT_EQ(numbers["x-int"], "5");
  EXPECT_EQ(numbers["x-float"], "1.5");
  auto list = get_once(port(), "/shaped-headers?shape=list");
  std::vector<std::string> lines;
  for (const auto &field : list) {
    if (field.name_string() == "x-list")
      lines.emplace_back(field.value());
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b"})) << "one header line per item, in order";
  auto upper = get_once(port(), "/shaped-headers?shape=upper-case");
  EXPECT_EQ(upper["x-upper"], "yes");
  auto managed = get_once(port(), "/shaped-headers?shape=managed");
  EXPECT_EQ(managed["x-ok"], "yes");
  EXPECT_EQ(managed[http::field::content_length], "1") << "the gateway frames the body itself";
  EXPECT_TRUE(managed.keep_alive()) << "and manages the connection";
  for (const char *shape : {"object", "boolean", "list-of-numbers"}) {
    auto refused = get_once(port(), std::string("/shaped-headers?shape=") + shape);
    EXPECT_EQ(refused.result_int(), 500) << shape;
    EXPECT_EQ(refused["x-known-error"], "INTERNAL_ERROR") << shape;
  }
}

TEST_F(Forwarding, SerializationFailureIsRetriedAndCounted) {
  const std::string series = "authflow_gateway_database_retries_total{reason=\"serialization_failure\"}";
  reset_conflicts();
  double before = metric_value(port(), series);
  auto response = get_once(port(), "/conflict");
  EXPECT_EQ(response.result_int(), 201) << response.body();
  EXPECT_EQ(metric_value(port(), series), before + 2);
}

TEST_F(Forwarding, RetriesAreBoundedThen503) {
  const std::string series = "authflow_gateway_database_retries_total{reason=\"serialization_failure\"}";
  double before = metric_value(port(), series);
  auto response = get_once(port(), "/always-conflict");
  EXPECT_EQ(response.result_int(), 503);
  EXPECT_EQ(response["x-known-error"], "DATABASE_CONFLICT");
  EXPECT_EQ(metric_value(port(), series), before + 3);
}

TEST_F(Forwarding, DeadlockIsRetriedThen503) {
  const std::string series = "authflow_gateway_database_retries_total{reason=\"deadlock\"}";
  double before = metric_value(port(), series);
  auto response = get_once(port(), "/deadlock");
  EXPECT_EQ(response.result_int(), 503);
  EXPECT_EQ(metric_value(port(), series), before + 3);
}

TEST_F(Forwarding, BodyThatIsNotUtf8Is400) {
  HttpClient client(port());
  auto response = client.send(make_request(http::verb::post, "/echo", std::string("\xff\xfe bad", 6)));
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(response["x-known-error"], "INVALID_ENCODING");
  auto nul = client.send(make_request(http::verb::post, "/echo", std::string("a\0b", 3)));
  EXPECT_EQ(nul.result_int(), 400);
}

TEST_F(Forwarding, RouteTemplateFromSqlLabelsTheMetrics) {
  ASSERT_EQ(get_once(port(), "/echo/42?secret=1").result_int(), 201);
  EXPECT_GE(metric_value(port(), "authflow_gateway_requests_total{route=\"GET /echo\",status=\"201\"}"), 1);
  auto text = get_once(port(), "/metrics").body();
  EXPECT_EQ(text.find("/echo/42"), std::string::npos);
  EXPECT_EQ(text.find("secret"), std::string::npos);
}

} // namespace
} // namespace authflow::testing
