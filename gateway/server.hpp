// server.hpp: the listener, the set of open connections, and graceful shutdown.
#pragma once

#include "access_log.hpp"
#include "config.hpp"
#include "database.hpp"
#include "io_threads.hpp"
#include "metrics.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace authflow::gateway {

class Session;

// Services is what every connection needs; it outlives the server.
struct Services {
  IoThreads &threads;
  const Config &config;
  Database &database;
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

  // drain stops accepting, closes idle connections and lets busy ones answer, then close;
  // drained runs once the last connection is gone.
  void drain(std::function<void()> drained);

  // draining tells connections to answer with "Connection: close".
  bool draining() const { return draining_.load(); }

  // remember and forget keep the set of open connections that drain() must reach.
  void remember(const std::shared_ptr<Session> &session);
  void forget(const Session *session);

  // services gives connections the database, the metrics and the log.
  Services &services() { return services_; }

private:
  // accept_next waits for one connection.
  void accept_next();
  // maybe_drained runs drained_ when draining and no connection is left; the caller holds the lock.
  void maybe_drained(std::unique_lock<std::mutex> &lock);

  Services services_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> draining_{false};
  std::mutex sessions_mutex_;
  std::unordered_map<const Session *, std::weak_ptr<Session>> sessions_;
  std::function<void()> drained_;
};

} // namespace authflow::gateway
