// server.hpp: the listener, the set of open connections, and graceful shutdown.
#pragma once

#include "access_log.hpp"
#include "config.hpp"
#include "forwarder.hpp"
#include "metrics.hpp"
#include "pool.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace authflow::gateway {

class Session;

// Services is what every connection needs; it outlives the server.
struct Services {
  boost::asio::io_context &io;
  const Config &config;
  ConnectionPool &pool;
  const Forwarder &forwarder;
  Metrics &metrics;
  AccessLog &access_log;
};

class Server {
public:
  explicit Server(Services services);

  // listen binds and listens; it returns the real endpoint (port 0 becomes the chosen port).
  boost::asio::ip::tcp::endpoint listen();

  // start_accepting begins the accept loop.
  void start_accepting();

  // drain stops accepting, closes idle connections and lets busy ones answer, then close.
  void drain();

  // draining tells connections to answer with "Connection: close".
  bool draining() const { return draining_.load(); }

  // remember and forget keep the set of open connections that drain() must reach.
  void remember(const std::shared_ptr<Session> &session);
  void forget(const Session *session);

  // services gives connections the pool, the forwarder, the metrics and the log.
  Services &services() { return services_; }

private:
  // accept_next waits for one connection.
  void accept_next();

  Services services_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> draining_{false};
  std::mutex sessions_mutex_;
  std::unordered_map<const Session *, std::weak_ptr<Session>> sessions_;
};

} // namespace authflow::gateway
