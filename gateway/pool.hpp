// pool.hpp: database connections, each owned by one worker thread, and the queue of calls
// waiting for them. HTTP threads only enqueue; they never touch a connection.
#pragma once

#include "metrics.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace authflow::gateway {

// DatabaseSlot is one pooled connection, opened on first use and reopened after a failure.
class DatabaseSlot {
public:
  using Setup = std::function<void(pqxx::connection &)>;

  DatabaseSlot(std::string conninfo, Setup setup) : conninfo_(std::move(conninfo)), setup_(std::move(setup)) {}

  // connection returns the open connection, connecting first when there is none (may throw).
  pqxx::connection &connection();

  // reused tells whether the last connection() call returned a connection opened earlier.
  bool reused() const { return reused_; }

  // discard closes the connection so that the next call opens a new one.
  void discard();

private:
  std::string conninfo_;
  Setup setup_;
  std::unique_ptr<pqxx::connection> connection_;
  bool reused_ = false;
};

class ConnectionPool {
public:
  // Run runs on a worker thread with a connection and returns how to deliver its answer; the pool
  // marks the connection free before delivering, so whoever sees the answer sees the pool idle.
  using Run = std::function<std::function<void()>(DatabaseSlot &)>;
  using Expire = std::function<void()>; // runs instead when no connection came in time

  ConnectionPool(std::string conninfo, DatabaseSlot::Setup setup, std::size_t size,
                 std::chrono::milliseconds wait_limit, Metrics &metrics);
  ~ConnectionPool();

  // submit queues a call; it returns at once.
  void submit(Run run, Expire expire);

  // stop lets the workers finish the queue, then joins them and closes the connections.
  void stop();

private:
  struct Task {
    std::chrono::steady_clock::time_point queued;
    Run run;
    Expire expire;
  };

  // work is the loop of one worker thread.
  void work(DatabaseSlot &slot);

  // expire_overdue answers, at their deadline, calls still queued because every connection is busy.
  void expire_overdue();

  std::chrono::milliseconds wait_limit_;
  Metrics &metrics_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<DatabaseSlot>> slots_;
  std::vector<std::thread> workers_;
  std::condition_variable stop_requested_;
  std::thread reaper_;
};

} // namespace authflow::gateway
