// pipeline.hpp: one database connection, driven by libpq in non-blocking pipeline mode on the
// IO thread that owns it. Its socket is watched by Asio (PQsocket + async_wait); each call is one
// PQsendQueryPrepared followed by PQpipelineSync, so every call is its own implicit transaction
// and a failed statement aborts nothing but itself; results come back in the order the calls
// went out and are matched to them first in, first out.
#pragma once

#include "config.hpp"
#include "forwarder.hpp"
#include "metrics.hpp"

#include <boost/asio.hpp>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace authflow::gateway {

class Database;

class PipelineConnection {
public:
  enum class State { down, connecting, ready, closed };

  PipelineConnection(boost::asio::io_context &io, std::size_t thread, Database &database, const Config &config,
                     const Forwarder &forwarder, Metrics &metrics);
  ~PipelineConnection();
  PipelineConnection(const PipelineConnection &) = delete;
  PipelineConnection &operator=(const PipelineConnection &) = delete;

  // Read from any thread (a snapshot: the owner thread may change them at any moment).
  State state() const { return state_.load(); }
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // accepting: set up and below the pipeline depth.
  bool accepting() const;
  // stalled: calls in flight, but no result for longer than the stall time (a slow statement).
  bool stalled(std::chrono::steady_clock::time_point now) const;
  std::size_t thread() const { return thread_; }
  boost::asio::io_context &io() { return io_; }

  // The rest runs on the owner thread only.

  // connect opens the connection when it is down (at once, cancelling a pending retry).
  void connect();

  // send puts a call into the pipeline. false when the connection turned out to be dead: then
  // the call was not sent and stays with the caller (the connection is closed and reopens).
  bool send(CallPointer &call);

  // close ends the connection for good (shutdown); calls still in flight are answered 503.
  void close();

private:
  // Pending is one synchronisation point of the pipeline: a call (null: the session set-up),
  // how many statements of it still owe their results, and the result that decides it.
  struct Pending {
    CallPointer call;
    int statements = 1;
    bool awaiting_end = false; // got a statement's result, waiting for the NULL that ends it
    PGresult *result = nullptr;
  };

  // poll_connect continues PQconnectPoll after the socket was ready as asked.
  void poll_connect(PostgresPollingStatusType status);
  // watch (re)registers libpq's current socket with Asio.
  bool watch();
  // connected enters pipeline mode and sends the session set-up.
  void connected();
  // wait arms a wait for the socket to be readable or writable (at most one of a kind at a time).
  void wait(boost::asio::posix::stream_descriptor::wait_type type);
  void on_readable();
  // flush pushes libpq's output buffer; the rest is sent when the socket is writable again.
  void flush();
  // collect takes every complete result libpq holds and finishes the calls they answer.
  bool collect();
  // finish hands a decided call its outcome (an answer, or a retry through the database).
  void finish(Pending &pending);
  // set_up reads the set-up's result: the connection is ready, or it failed.
  void set_up(const PGresult *result);
  // more_input tells whether the kernel (or TLS) still holds bytes libpq did not read.
  bool more_input() const;
  // broken closes the connection and answers every call in flight; the database decides what
  // becomes of waiting calls, and a reconnect is scheduled.
  void broken(DatabaseFailure failure, bool retry_soon);
  // finish_connection drops the libpq connection and its watch.
  void finish_connection();
  // schedule_reconnect arms the retry timer (backoff after failed attempts).
  void schedule_reconnect();
  // arm_watchdog checks, while calls are in flight, that results keep coming.
  void arm_watchdog();
  // progress records a result (or a first call into an empty pipeline) for stalled().
  void progress();
  void set_in_flight(int count);

  boost::asio::io_context &io_;
  std::size_t thread_;
  Database &database_;
  const Config &config_;
  const Forwarder &forwarder_;
  Metrics &metrics_;

  PGconn *connection_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  unsigned attempt_ = 0;    // connection attempts: a connect timer belongs to one
  unsigned generation_ = 0; // bumped when the socket is dropped: stale wait completions ignore themselves
  bool read_armed_ = false;
  bool write_armed_ = false;
  std::deque<Pending> pending_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  int failed_attempts_ = 0;
  std::chrono::system_clock::time_point setup_sent_;
  double clock_offset_ = 0; // database clock minus ours, in seconds

  std::atomic<State> state_{State::down};
  std::atomic<int> in_flight_{0};
  std::atomic<std::int64_t> progress_at_{0}; // steady clock, nanoseconds
};

} // namespace authflow::gateway
