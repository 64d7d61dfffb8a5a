// limits_test.cpp: body limit, malformed HTTP, slow and idle clients, pool and statement timeouts.
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
using std::chrono::seconds;

class Limits : public ::testing::Test {
protected:
  // SetUpTestSuite starts one gateway for the whole suite.
  static void SetUpTestSuite() {
    gateway_ = std::make_unique<GatewayProcess>(std::vector<std::string>{
        "--http-function", test_function(), "--max-body", "1024", "--read-timeout", "1s", "--idle-timeout", "1s"});
  }
  // TearDownTestSuite stops it.
  static void TearDownTestSuite() { gateway_.reset(); }

  // port is the suite's gateway port.
  static unsigned short port() { return gateway_->port(); }

  static std::unique_ptr<GatewayProcess> gateway_;
};

std::unique_ptr<GatewayProcess> Limits::gateway_;

TEST_F(Limits, BodyAtTheLimitIsForwarded) {
  HttpClient client(port());
  auto response = client.send(make_request(http::verb::post, "/echo", std::string(1024, 'a')));
  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(json::parse(response.body())["body"].get<std::string>().size(), 1024u);
}

TEST_F(Limits, BodyOverTheLimitIs413AndCloses) {
  HttpClient client(port());
  auto response = client.send(make_request(http::verb::post, "/echo", std::string(100000, 'a')));
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(response["x-known-error"], "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(json::parse(response.body())["code"], "PAYLOAD_TOO_LARGE");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST_F(Limits, ChunkedBodyOverTheLimitIs413) {
  HttpClient client(port());
  std::string chunk(1000, 'b');
  client.write_raw("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3e8\r\n" +
                   chunk + "\r\n3e8\r\n" + chunk + "\r\n0\r\n\r\n");
  auto response = client.read_response();
  EXPECT_EQ(response.result_int(), 413);
}

TEST_F(Limits, MalformedRequestLineIs400AndCloses) {
  HttpClient client(port());
  client.write_raw("THIS IS NOT HTTP\r\n\r\n");
  auto response = client.read_response();
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(response["x-known-error"], "BAD_REQUEST");
  EXPECT_EQ(json::parse(response.body())["code"], "BAD_REQUEST");
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST_F(Limits, MalformedHeaderIs400AndCloses) {
  HttpClient client(port());
  client.write_raw("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n");
  auto response = client.read_response();
  EXPECT_EQ(response.result_int(), 400);
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST_F(Limits, IdleKeepAliveConnectionIsClosed) {
  HttpClient client(port());
  ASSERT_EQ(client.get("/healthz").result_int(), 200);
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST_F(Limits, ConnectionThatSendsNothingIsClosed) {
  HttpClient client(port());
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST_F(Limits, SlowRequestIsClosed) {
  HttpClient client(port());
  client.write_raw("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  EXPECT_TRUE(client.closed_by_server(seconds(10)));
}

TEST(PoolLimits, WaitingForAConnectionLongerThanTheRequestTimeoutIs503) {
  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "1", "--request-timeout", "1s"});
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(std::make_unique<HttpClient>(gateway.port()));
  for (auto &client : clients)
    client->write(make_request(http::verb::get, "/slow?seconds=0.7"));
  int answered = 0;
  int busy = 0;
  for (auto &client : clients) {
    auto response = client->read_response();
    if (response.result_int() == 201)
      ++answered;
    if (response.result_int() == 503 && response["x-known-error"] == "DATABASE_BUSY")
      ++busy;
  }
  EXPECT_GE(answered, 1);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(answered + busy, 3);
}

TEST(PoolLimits, StatementLongerThanTheRequestTimeoutIs504) {
  GatewayProcess gateway({"--http-function", test_function(), "--request-timeout", "1s"});
  auto response = get_once(gateway.port(), "/slow?seconds=3");
  EXPECT_EQ(response.result_int(), 504);
  EXPECT_EQ(response["x-known-error"], "DATABASE_TIMEOUT");
  // The connection that was cancelled still serves the next request.
  EXPECT_EQ(get_once(gateway.port(), "/echo").result_int(), 201);
}

} // namespace
} // namespace authflow::testing
