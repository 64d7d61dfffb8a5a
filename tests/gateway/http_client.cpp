// http_client.cpp: see http_client.hpp.
#include "http_client.hpp"

#include <functional>
#include <sstream>
#include <stdexcept>

namespace authflow::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// make_request fills in what every test request needs.
Request make_request(http::verb method, const std::string &target, const std::string &body,
                     const std::multimap<std::string, std::string> &headers) {
  Request request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  for (const auto &[name, value] : headers)
    request.insert(name, value);
  request.body() = body;
  if (!body.empty() || method == http::verb::post || method == http::verb::put)
    request.prepare_payload();
  return request;
}

// HttpClient connects with a deadline.
HttpClient::HttpClient(unsigned short port, std::chrono::milliseconds timeout) : HttpClient(port, "", timeout) {}

// HttpClient binds the socket first when a local address is given.
HttpClient::HttpClient(unsigned short port, const std::string &local_address, std::chrono::milliseconds timeout)
    : timeout_(timeout), stream_(io_) {
  if (!local_address.empty()) {
    stream_.socket().open(tcp::v4());
    stream_.socket().bind(tcp::endpoint(net::ip::make_address(local_address), 0));
  }
  beast::error_code result = net::error::would_block;
  stream_.expires_after(timeout_);
  stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                        [&](beast::error_code error) { result = error; });
  run_until_done();
  if (result)
    throw std::runtime_error("connect: " + result.message());
}

// run_until_done returns when no operation is pending any more.
void HttpClient::run_until_done() {
  io_.restart();
  io_.run();
}

// write sends one whole request.
void HttpClient::write(Request request) {
  beast::error_code result = net::error::would_block;
  stream_.expires_after(timeout_);
  http::async_write(stream_, request, [&](beast::error_code error, std::size_t) { result = error; });
  run_until_done();
  if (result)
    throw std::runtime_error("write: " + result.message());
}

// send is write then read.
Response HttpClient::send(Request request) {
  write(std::move(request));
  return read_response();
}

// get sends a bodiless GET.
Response HttpClient::get(const std::string &target) { return send(make_request(http::verb::get, target)); }

// write_raw sends bytes without any HTTP framing.
void HttpClient::write_raw(const std::string &bytes) {
  beast::error_code result = net::error::would_block;
  stream_.expires_after(timeout_);
  net::async_write(stream_, net::buffer(bytes), [&](beast::error_code error, std::size_t) { result = error; });
  run_until_done();
  if (result)
    throw std::runtime_error("write: " + result.message());
}

// read_response accepts bodies up to 8 MiB (metrics pages grow with the routes seen).
Response HttpClient::read_response() {
  beast::error_code result = net::error::would_block;
  http::response_parser<http::string_body> parser;
  parser.body_limit(8 * 1024 * 1024);
  stream_.expires_after(timeout_);
  http::async_read(stream_, buffer_, parser, [&](beast::error_code error, std::size_t) { result = error; });
  run_until_done();
  if (result)
    throw std::runtime_error("read: " + result.message());
  return parser.release();
}

// closed_by_server treats end of stream and a reset alike: the server hung up.
bool HttpClient::closed_by_server(std::chrono::milliseconds timeout) {
  beast::error_code result = net::error::would_block;
  char scratch[512];
  stream_.expires_after(timeout);
  std::function<void(beast::error_code, std::size_t)> on_read = [&](beast::error_code error, std::size_t) {
    if (!error) {
      stream_.async_read_some(net::buffer(scratch), on_read);
      return;
    }
    result = error;
  };
  stream_.async_read_some(net::buffer(scratch), on_read);
  run_until_done();
  return result == net::error::eof || result == net::error::connection_reset;
}

void KeepAliveClient::connect(unsigned short port, std::function<void(bool)> done) {
  stream_.expires_after(std::chrono::seconds(60));
  stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                        [self = shared_from_this(), done](beast::error_code error) { done(!error); });
}

void KeepAliveClient::send(int count, Target target, OnAnswer on_answer) {
  count_ = count;
  target_ = std::move(target);
  on_answer_ = std::move(on_answer);
  next();
}

// next writes request sent_, reads its answer, and goes on.
void KeepAliveClient::next() {
  if (sent_ == count_)
    return;
  request_ = make_request(http::verb::get, target_(sent_));
  stream_.expires_after(std::chrono::seconds(60));
  http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code error, std::size_t) {
    if (error)
      return;
    self->response_ = {};
    http::async_read(self->stream_, self->buffer_, self->response_, [self](beast::error_code error, std::size_t) {
      if (error)
        return;
      self->on_answer_(self->sent_++, self->response_);
      self->next();
    });
  });
}

// get_once is the common one-request case.
Response get_once(unsigned short port, const std::string &target) { return HttpClient(port).get(target); }

// metric_value scans the exposition text line by line.
double metric_value(unsigned short port, const std::string &series) {
  std::istringstream text(get_once(port, "/metrics").body());
  std::string line;
  while (std::getline(text, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

// wait_for_metric asks again as soon as the previous answer came: the condition, not a pause.
bool wait_for_metric(unsigned short port, const std::string &series, double value, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric_value(port, series) >= value)
      return true;
  }
  return false;
}

} // namespace authflow::testing
