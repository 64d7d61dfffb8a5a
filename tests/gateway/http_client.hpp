// http_client.hpp: a small Beast HTTP/1.1 client for the tests; every operation has a deadline.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace authflow::testing {

using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Request = boost::beast::http::request<boost::beast::http::string_body>;

// make_request builds a request with Host set and Content-Length from the body.
Request make_request(boost::beast::http::verb method, const std::string &target, const std::string &body = "",
                     const std::multimap<std::string, std::string> &headers = {});

class HttpClient {
public:
  // HttpClient connects to 127.0.0.1:port; it throws when that fails.
  explicit HttpClient(unsigned short port, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // HttpClient from a given local address (any of 127.0.0.0/8 on loopback), so that the gateway
  // sees another peer than 127.0.0.1.
  HttpClient(unsigned short port, const std::string &local_address,
             std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // send writes the request and reads one response; it throws on error or timeout.
  Response send(Request request);

  // write sends a request without waiting for the response (read it with read_response).
  void write(Request request);

  // get is send() of a GET without body.
  Response get(const std::string &target);

  // write_raw writes bytes as they are (for malformed requests).
  void write_raw(const std::string &bytes);

  // read_response reads one response; it throws on error or timeout.
  Response read_response();

  // closed_by_server reads until the server closes (true) or the timeout passes (false).
  bool closed_by_server(std::chrono::milliseconds timeout);

private:
  // run_until_done runs the client's io_context; the stream's deadline bounds every operation.
  void run_until_done();

  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

// KeepAliveClient is one asynchronous keep-alive connection on the caller's io_context: it
// connects, then sends GET requests one after the other, each once the previous answer came,
// and hands every answer on; it stops at the first error or after the last request.
class KeepAliveClient : public std::enable_shared_from_this<KeepAliveClient> {
public:
  using Target = std::function<std::string(int)>; // the target of request i
  using OnAnswer = std::function<void(int, const Response &)>;

  explicit KeepAliveClient(boost::asio::io_context &io) : stream_(io) {}

  // connect opens the connection (deadline 60 s); done(true) once it is open.
  void connect(unsigned short port, std::function<void(bool)> done);

  // send sends `count` requests in turn.
  void send(int count, Target target, OnAnswer on_answer);

private:
  void next();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  Request request_;
  Response response_;
  int count_ = 0, sent_ = 0;
  Target target_;
  OnAnswer on_answer_;
};

// get_once opens a connection, sends one GET and returns the response.
Response get_once(unsigned short port, const std::string &target);

// wait_for_metric polls /metrics (bounded) until the series reaches at least `value`; false
// when it did not in time.
bool wait_for_metric(unsigned short port, const std::string &series, double value, std::chrono::milliseconds limit);

// metric_value reads one series (name plus labels, exactly as rendered) from /metrics; 0 when
// the series is absent.
double metric_value(unsigned short port, const std::string &series);

} // namespace authflow::testing
