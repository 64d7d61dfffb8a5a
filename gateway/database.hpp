// database.hpp: the gateway's database connections (pipeline.hpp), spread over the IO threads,
// and the choice of the connection each call goes to: the least loaded pipeline of the call's own
// thread that is not stalled behind a slow statement, another thread's when that holds much
// less, a stalled one when nothing else is left. Only when no connection is set up (connecting,
// or the database is gone) or every pipeline is full does a call wait, bounded by its deadline.
#pragma once

#include "config.hpp"
#include "forwarder.hpp"
#include "io_threads.hpp"
#include "metrics.hpp"
#include "pipeline.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace authflow::gateway {

class Database {
public:
  Database(IoThreads &threads, const Config &config, const Forwarder &forwarder, Metrics &metrics);
  ~Database();

  // start opens every connection (each on its own thread); the gateway serves meanwhile.
  void start();

  // submit sends a call on its way; it runs on an IO thread and returns at once. The call's
  // done() is called exactly once, on some IO thread.
  void submit(CallPointer call);

  // stop closes every connection (after the drain: no call is left).
  void stop();

  // From a connection, on its own thread: it can take calls (set up, or a result came back).
  void connection_ready(PipelineConnection &connection);
  // From a connection, on its own thread: it broke or could not be opened.
  void connection_down(PipelineConnection &connection, DatabaseFailure failure);

private:
  // choose picks the connection for a call made on thread `here`; null when none can take it.
  PipelineConnection *choose(std::size_t here, bool other_threads);
  // send_here sends on a connection of this thread; a dead connection gets the call once more.
  void send_here(PipelineConnection &connection, CallPointer call);
  // unsent handles a call a dead connection could not take.
  void unsent(CallPointer call);
  // wait queues a call until a connection is set up, and has down connections try again now.
  void wait(CallPointer call);
  // take_waiting moves waiting calls into a connection while it accepts them.
  void take_waiting(PipelineConnection &connection);
  // expire_waiting answers the waiting calls past their deadline (503 DATABASE_BUSY).
  void expire_waiting();
  void schedule_expiry();
  // any_alive: some connection is set up or being set up.
  bool any_alive() const;

  IoThreads &threads_;
  const Config &config_;
  const Forwarder &forwarder_;
  Metrics &metrics_;
  std::vector<std::unique_ptr<PipelineConnection>> connections_;

  std::mutex waiting_mutex_;
  std::deque<CallPointer> waiting_;
  std::atomic<std::size_t> waiting_count_{0};
  std::atomic<bool> expiry_scheduled_{false};
  boost::asio::steady_timer expiry_timer_; // on thread 0
  std::atomic<bool> stopping_{false};
};

} // namespace authflow::gateway
