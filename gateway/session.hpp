// session.hpp: one client connection: read a request with Beast, answer it (itself or through
// the SQL function), repeat while keep-alive lasts.
#pragma once

#include "answer.hpp"
#include "forwarder.hpp"
#include "request.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace authflow::gateway {

class Server;

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(boost::asio::ip::tcp::socket socket, Server &server);
  ~Session();

  // start registers with the server and waits for the first request.
  void start();

  // drain is posted by the server at shutdown: close when idle, else close after the answer.
  void drain();

private:
  enum class State { idle, reading, answering, closing };

  // wait_for_request waits for the first bytes of the next request (the idle timeout applies).
  void wait_for_request();
  void on_first_bytes(boost::beast::error_code error, std::size_t bytes);

  // read_header reads the request line and headers; read_body the rest (read timeout applies).
  void read_header();
  void on_header(boost::beast::error_code error);
  void read_body();
  void on_body(boost::beast::error_code error);

  // refuse_head answers a request whose head breaks a limit (414, 431) and closes after it.
  void refuse_head(HttpAnswer refusal);

  // fail_read answers a malformed or oversized request, or just closes on a network error.
  void fail_read(boost::beast::error_code error);

  // handle answers gateway-own routes and forwards everything else to the database.
  void handle();

  // forward sends the database call; the answer comes back through answer().
  void forward(bool ping, HttpCall call);

  // answer writes the response, counts it and logs it.
  void answer(HttpAnswer answer, bool close_after = false);
  void on_write(boost::beast::error_code error);

  // linger half-closes and discards what the client still sends, so that it reads our answer.
  void linger();
  void discard_input();

  // close ends the connection now.
  void close();

  boost::beast::tcp_stream stream_;
  Server &server_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::empty_body> continue_response_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  State state_ = State::idle;
  bool first_request_ = true;
  std::optional<boost::asio::ip::address> peer_; // for the client address SQL is told (client_address.hpp)
  bool draining_ = false;
  bool keep_alive_ = false;
  std::size_t discarded_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::string method_;
};

} // namespace authflow::gateway
