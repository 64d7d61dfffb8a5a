// concurrency_test.cpp: 1,000 keep-alive connections open at once, every request answered.
#include "gateway_process.hpp"
#include "http_client.hpp"
#include "sql_fixture.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <memory>

namespace authflow::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr int connection_count = 1000;
constexpr int requests_per_connection = 3;

// Connection is one asynchronous client: connect, wait until all are connected, then send its
// requests one after the other on the same connection.
struct Connection : std::enable_shared_from_this<Connection> {
  // Connection makes an unconnected client.
  Connection(net::io_context &io, int index) : stream(io), index(index) {}

  // connect opens the socket; done() is called either way.
  void connect(unsigned short port, std::function<void(bool)> done) {
    stream.expires_after(std::chrono::seconds(60));
    stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                         [self = shared_from_this(), done](beast::error_code error) { done(!error); });
  }

  // next sends the next request, or stops after the last.
  void next() {
    if (sent == requests_per_connection)
      return;
    request = make_request(http::verb::get, "/echo?c=" + std::to_string(index) + "&r=" + std::to_string(sent++));
    stream.expires_after(std::chrono::seconds(60));
    http::async_write(stream, request, [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (error)
        return;
      self->response = {};
      http::async_read(self->stream, self->buffer, self->response, [self](beast::error_code error, std::size_t) {
        if (error)
          return;
        if (self->response.result_int() == 201 && self->response.keep_alive())
          ++self->answered;
        self->next();
      });
    });
  }

  beast::tcp_stream stream;
  int index;
  int sent = 0;
  int answered = 0;
  beast::flat_buffer buffer;
  Request request;
  Response response;
};

TEST(Concurrency, ThousandKeepAliveConnectionsAreAllAnswered) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, static_cast<rlim_t>(connection_count + 100)) << "too few file descriptors";

  GatewayProcess gateway({"--http-function", test_function(), "--pool-size", "4", "--io-threads", "2"});
  net::io_context io;
  std::vector<std::shared_ptr<Connection>> connections;
  int connected = 0;
  int settled = 0;
  for (int i = 0; i < connection_count; ++i) {
    auto connection = std::make_shared<Connection>(io, i);
    connections.push_back(connection);
    connection->connect(gateway.port(), [&](bool ok) {
      connected += ok ? 1 : 0;
      // Requests start only once every connection is open: they are all held at the same time.
      if (++settled == connection_count) {
        for (auto &each : connections)
          each->next();
      }
    });
  }
  io.run_for(std::chrono::seconds(120));

  EXPECT_EQ(connected, connection_count);
  int answered = 0;
  int starved = 0;
  for (auto &connection : connections) {
    answered += connection->answered;
    if (connection->answered < requests_per_connection)
      ++starved;
  }
  EXPECT_EQ(answered, connection_count * requests_per_connection);
  EXPECT_EQ(starved, 0);
  EXPECT_EQ(metric_value(gateway.port(), "authflow_gateway_pool_waiting_requests"), 0);
}

} // namespace
} // namespace authflow::testing
