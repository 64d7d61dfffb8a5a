// session.cpp: see session.hpp.
#include "session.hpp"

#include "client_address.hpp"
#include "server.hpp"

#include <algorithm>

namespace authflow::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t header_limit = 16 * 1024; // the whole head, enforced by Beast's parser
constexpr std::size_t field_limit = 8 * 1024;   // one header field, name and value
constexpr std::size_t target_limit = 8 * 1024;
constexpr std::size_t linger_limit = 1024 * 1024;
constexpr std::chrono::milliseconds linger_time{3000};

// own_route names the gateway's own endpoints; nullptr for anything SQL answers.
const char *own_route(const std::string &path) {
  if (path == "/healthz")
    return "GET /healthz";
  if (path == "/readyz")
    return "GET /readyz";
  if (path == "/metrics")
    return "GET /metrics";
  return nullptr;
}

// is_closed_by_peer tells errors that only mean the client went away or was too slow.
bool is_closed_by_peer(beast::error_code error) {
  return error == http::error::end_of_stream || error == http::error::partial_message ||
         error == beast::error::timeout || error == net::error::eof || error == net::error::connection_reset ||
         error == net::error::operation_aborted || error == net::error::broken_pipe;
}

} // namespace

// Session takes over an accepted socket.
Session::Session(tcp::socket socket, Server &server) : stream_(std::move(socket)), server_(server) {
  beast::error_code error;
  const auto peer = stream_.socket().remote_endpoint(error);
  if (!error)
    peer_ = peer.address();
}

// ~Session leaves the server's set of open connections.
Session::~Session() { server_.forget(this); }

// start runs in the accept handler; the socket's strand takes over from here.
void Session::start() {
  server_.remember(shared_from_this());
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
}

// drain hops onto the connection's strand; a connection that is between requests closes unless
// the client already sent bytes (a request sent before shutdown still gets its answer).
void Session::drain() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->draining_ = true;
    if (self->state_ != State::idle || self->buffer_.size() > 0)
      return;
    boost::system::error_code error;
    if (self->stream_.socket().is_open() && self->stream_.socket().available(error) == 0)
      self->close();
  });
}

// wait_for_request reads whatever arrives first, so that the idle timeout is separate from the
// time allowed to send a whole request.
void Session::wait_for_request() {
  state_ = State::idle;
  parser_.reset();
  if (buffer_.size() > 0) { // a pipelined request is already here
    read_header();
    return;
  }
  draining_ = draining_ || server_.draining();
  if (draining_) {
    boost::system::error_code error;
    if (stream_.socket().available(error) == 0) {
      close();
      return;
    }
  }
  const auto &config = server_.services().config;
  stream_.expires_after(first_request_ ? config.read_timeout : config.idle_timeout);
  stream_.async_read_some(
      buffer_.prepare(4096),
      [self = shared_from_this()](beast::error_code error, std::size_t bytes) { self->on_first_bytes(error, bytes); });
}

// on_first_bytes starts the request proper.
void Session::on_first_bytes(beast::error_code error, std::size_t bytes) {
  if (error) {
    close();
    return;
  }
  buffer_.commit(bytes);
  read_header();
}

// read_header sets up a new parser with the gateway's limits.
void Session::read_header() {
  state_ = State::reading;
  first_request_ = false;
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(server_.services().config.max_body);
  stream_.expires_after(server_.services().config.read_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_header(error); });
}

// on_header answers "Expect: 100-continue" before the body is read.
void Session::on_header(beast::error_code error) {
  if (error) {
    fail_read(error);
    return;
  }
  started_ = std::chrono::steady_clock::now();
  const auto &request = parser_->get();
  if (request.target().size() > target_limit) {
    refuse_head(error_answer(414, "URI_TOO_LONG", "request target too long"));
    return;
  }
  for (const auto &field : request) {
    if (field.name_string().size() + field.value().size() > field_limit) {
      refuse_head(error_answer(431, "HEADERS_TOO_LARGE", "a request header field is too large"));
      return;
    }
  }
  auto expect = request[http::field::expect];
  if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
    continue_response_ = {http::status::continue_, request.version()};
    http::async_write(stream_, continue_response_, [self = shared_from_this()](beast::error_code error, std::size_t) {
      if (error) {
        self->close();
        return;
      }
      self->read_body();
    });
    return;
  }
  read_body();
}

// refuse_head answers a request whose head is refused before its body is read; the connection
// closes after the answer (the unread body is discarded while lingering).
void Session::refuse_head(HttpAnswer refusal) {
  method_ = std::string(parser_->get().method_string());
  answer(std::move(refusal), true);
}

// read_body reads the rest of the message (nothing when it has no body).
void Session::read_body() {
  if (parser_->is_done()) {
    on_body({});
    return;
  }
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_body(error); });
}

// on_body hands a complete request on.
void Session::on_body(beast::error_code error) {
  if (error) {
    fail_read(error);
    return;
  }
  handle();
}

// fail_read: a protocol error gets a JSON answer and the connection closes after it.
void Session::fail_read(beast::error_code error) {
  if (is_closed_by_peer(error) || error.category() != http::make_error_code(http::error::bad_target).category()) {
    close();
    return;
  }
  started_ = std::chrono::steady_clock::now();
  method_ = parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string()) : "-";
  if (error == http::error::body_limit) {
    answer(error_answer(413, "PAYLOAD_TOO_LARGE", "request body too large"), true);
  } else if (error == http::error::header_limit) {
    answer(error_answer(431, "HEADERS_TOO_LARGE", "request headers too large"), true);
  } else {
    answer(error_answer(400, "BAD_REQUEST", "malformed HTTP request"), true);
  }
}

// handle picks who answers: the gateway for its own routes, otherwise the SQL function.
void Session::handle() {
  state_ = State::answering;
  auto &request = parser_->get();
  method_ = std::string(request.method_string());
  keep_alive_ = request.keep_alive();
  std::string target(request.target());
  std::string path = path_of(target);
  if (const char *route = own_route(path)) {
    HttpAnswer own;
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      own = error_answer(405, "METHOD_NOT_ALLOWED", "method not allowed");
      own.headers.emplace_back("allow", "GET, HEAD");
    } else if (path == "/readyz") {
      forward(true, {});
      return;
    } else if (path == "/metrics") {
      own.status = 200;
      own.headers = {{"content-type", "text/plain; version=0.0.4; charset=utf-8"}};
      own.body = server_.services().metrics.render();
    } else {
      own.status = 200;
      own.headers = {{"content-type", "application/json"}};
      own.body = R"({"status":"ok"})";
    }
    own.route = route;
    answer(std::move(own));
    return;
  }
  if (!is_valid_utf8(target) || !is_valid_utf8(request.body())) {
    answer(error_answer(400, "INVALID_ENCODING", "request target and body must be UTF-8 text"));
    return;
  }
  const std::string client = client_address(request, peer_, server_.services().config.trusted_proxies);
  forward(false, {method_, std::move(target), headers_json(request, client), std::move(request.body())});
}

// forward hands the call to the database; its answer comes back on whichever IO thread owns the
// database connection that served it, and is dispatched to this connection's thread (inline when
// that is the same thread). The deadline counts from the complete request.
void Session::forward(bool ping, HttpCall call) {
  auto &services = server_.services();
  auto pending = std::make_unique<DatabaseCall>();
  pending->ping = ping;
  pending->request = std::move(call);
  pending->deadline = std::chrono::steady_clock::now() + services.config.request_timeout;
  pending->deadline_wall = std::chrono::system_clock::now() + services.config.request_timeout;
  pending->done = [self = shared_from_this(), ping](HttpAnswer result) {
    if (ping)
      result.route = "GET /readyz";
    net::dispatch(self->stream_.get_executor(),
                  [self, result = std::move(result)]() mutable { self->answer(std::move(result)); });
  };
  services.database.submit(std::move(pending));
}

// answer builds the response from the answer's status, headers and body.
void Session::answer(HttpAnswer result, bool close_after) {
  state_ = State::answering;
  unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
  bool head = parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
  response_ = {};
  response_.version(version);
  response_.result(static_cast<unsigned>(result.status));
  for (auto &[name, value] : result.headers)
    response_.insert(name, value);
  response_.body() = std::move(result.body);
  response_.keep_alive(keep_alive_ && !close_after && !draining_ && !server_.draining());
  response_.prepare_payload();
  if (head)
    response_.body().clear();

  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  auto &services = server_.services();
  std::string route = services.metrics.record_request(result.route, result.status, elapsed);
  if (services.access_log.append({std::chrono::system_clock::now(), method_, std::move(route), result.status,
                                  elapsed * 1000.0, result.tenant}))
    net::post(stream_.get_executor(), [&log = services.access_log] { log.flush(); });

  stream_.expires_after(services.config.read_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_write(error); });
}

// on_write continues the keep-alive loop or ends the connection.
void Session::on_write(beast::error_code error) {
  if (error) {
    close();
    return;
  }
  if (!response_.keep_alive()) {
    linger();
    return;
  }
  wait_for_request();
}

// linger sends FIN, then reads and drops input for a short while: closing with unread input
// would send a reset, which can destroy the answer before the client reads it.
void Session::linger() {
  state_ = State::closing;
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  buffer_.consume(buffer_.size());
  discarded_ = 0;
  stream_.expires_after(std::min<std::chrono::milliseconds>(linger_time, server_.services().config.read_timeout));
  discard_input();
}

// discard_input drops one chunk of input; it stops at end of stream, timeout or the limit.
void Session::discard_input() {
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
                            self->discarded_ += bytes;
                            if (error || self->discarded_ > linger_limit) {
                              self->close();
                              return;
                            }
                            self->discard_input();
                          });
}

// close cancels the timer and closes the socket; pending operations end with operation_aborted.
void Session::close() {
  state_ = State::closing;
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

} // namespace authflow::gateway
