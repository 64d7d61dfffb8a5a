// database.cpp: see database.hpp.
#include "database.hpp"

#include <algorithm>
#include <climits>

namespace authflow::gateway {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// Database spreads the connections over the threads: connection i belongs to thread i mod n.
Database::Database(IoThreads &threads, const Config &config, const Forwarder &forwarder, Metrics &metrics)
    : threads_(threads), config_(config), forwarder_(forwarder), metrics_(metrics), expiry_timer_(threads.context(0)) {
  for (std::size_t i = 0; i < config.pool_size; ++i) {
    const std::size_t thread = i % threads.size();
    connections_.push_back(
        std::make_unique<PipelineConnection>(threads.context(thread), thread, *this, config, forwarder, metrics));
  }
  metrics_.set_pool_size(config.pool_size);
}

Database::~Database() = default;

// start: every connection connects on its own thread; calls that come first wait for them.
void Database::start() {
  for (auto &connection : connections_)
    net::post(connection->io(), [raw = connection.get()] { raw->connect(); });
}

// choose: the least loaded pipeline of this thread that is not stalled, unless one of another
// thread holds much less (a hand-off costs a wake-up each way, and under load every thread has
// its own share of the clients); then the least loaded stalled one. It reads other threads'
// connections as snapshots: the owner checks again.
PipelineConnection *Database::choose(std::size_t here, bool other_threads) {
  PipelineConnection *local = nullptr;
  PipelineConnection *elsewhere = nullptr;
  PipelineConnection *slow = nullptr;
  const auto now = Clock::now();
  for (auto &owned : connections_) {
    PipelineConnection *connection = owned.get();
    if (!connection->accepting())
      continue;
    const bool is_local = connection->thread() == here;
    if (!is_local && !other_threads)
      continue;
    const int load = connection->in_flight();
    if (connection->stalled(now)) {
      if (slow == nullptr || load < slow->in_flight() || (load == slow->in_flight() && is_local))
        slow = connection;
    } else if (is_local) {
      if (local == nullptr || load < local->in_flight())
        local = connection;
    } else if (elsewhere == nullptr || load < elsewhere->in_flight()) {
      elsewhere = connection;
    }
  }
  if (local != nullptr && (elsewhere == nullptr || local->in_flight() <= 4 + 4 * elsewhere->in_flight()))
    return local;
  if (elsewhere != nullptr)
    return elsewhere;
  return local != nullptr ? local : slow;
}

// submit: on this thread when the chosen connection is here, else posted to its thread (at most
// twice for one call, so that it never travels in circles).
void Database::submit(CallPointer call) {
  const std::size_t here = IoThreads::current();
  PipelineConnection *connection = choose(here, call->hops < 2);
  if (connection == nullptr) {
    wait(std::move(call));
    return;
  }
  if (connection->thread() == here) {
    send_here(*connection, std::move(call));
    return;
  }
  ++call->hops;
  net::post(connection->io(), [this, connection, call = std::move(call)]() mutable {
    if (connection->accepting()) {
      send_here(*connection, std::move(call));
    } else {
      submit(std::move(call));
    }
  });
}

void Database::send_here(PipelineConnection &connection, CallPointer call) {
  if (!connection.send(call))
    unsent(std::move(call));
}

// unsent: the connection was found dead as the call went out, so the call never reached the
// database; it is sent once more elsewhere, as after a restart the first use of each old
// connection fails so.
void Database::unsent(CallPointer call) {
  if (call->resent) {
    call->done(forwarder_.failure_answer(DatabaseFailure::connection));
    return;
  }
  call->resent = true;
  metrics_.record_retry("stale_connection");
  submit(std::move(call));
}

bool Database::any_alive() const {
  return std::any_of(connections_.begin(), connections_.end(), [](const auto &connection) {
    const auto state = connection->state();
    return state == PipelineConnection::State::ready || state == PipelineConnection::State::connecting;
  });
}

// wait: the call waits for a connection; down connections try at once (a request is what tells
// that the database may be back), and a connection that became ready meanwhile takes it.
void Database::wait(CallPointer call) {
  if (stopping_) {
    call->done(forwarder_.failure_answer(DatabaseFailure::connection));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(waiting_mutex_);
    waiting_.push_back(std::move(call));
    ++waiting_count_;
  }
  metrics_.pool_waiting_add(1);
  schedule_expiry();
  for (auto &owned : connections_) {
    PipelineConnection *connection = owned.get();
    if (connection->state() == PipelineConnection::State::down) {
      net::post(connection->io(), [connection] { connection->connect(); });
    } else if (connection->accepting()) {
      net::post(connection->io(), [this, connection] { take_waiting(*connection); });
    }
  }
}

void Database::connection_ready(PipelineConnection &connection) {
  if (waiting_count_.load() > 0)
    take_waiting(connection);
}

// take_waiting: first come, first served; a call whose deadline passed is answered instead.
void Database::take_waiting(PipelineConnection &connection) {
  while (waiting_count_.load() > 0 && connection.accepting()) {
    CallPointer call;
    {
      std::lock_guard<std::mutex> lock(waiting_mutex_);
      if (waiting_.empty())
        return;
      call = std::move(waiting_.front());
      waiting_.pop_front();
      --waiting_count_;
    }
    metrics_.pool_waiting_add(-1);
    if (Clock::now() >= call->deadline) {
      call->done(forwarder_.failure_answer(DatabaseFailure::busy));
      continue;
    }
    send_here(connection, std::move(call));
  }
}

// connection_down: when no connection is left set up or being set up, the waiting calls are
// answered with what the last attempt ran into (503 DATABASE_UNAVAILABLE, mostly).
void Database::connection_down(PipelineConnection &, DatabaseFailure failure) {
  if (waiting_count_.load() == 0 || any_alive())
    return;
  std::deque<CallPointer> failed;
  {
    std::lock_guard<std::mutex> lock(waiting_mutex_);
    failed.swap(waiting_);
    waiting_count_ = 0;
  }
  metrics_.pool_waiting_add(-static_cast<std::int64_t>(failed.size()));
  for (auto &call : failed)
    call->done(forwarder_.failure_answer(failure == DatabaseFailure::other ? failure : DatabaseFailure::connection));
}

// schedule_expiry runs expire_waiting on thread 0 a few times per request timeout while calls wait.
void Database::schedule_expiry() {
  if (expiry_scheduled_.exchange(true))
    return;
  net::post(threads_.context(0), [this] {
    const auto period = std::clamp<std::chrono::milliseconds>(
        config_.request_timeout / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
    expiry_timer_.expires_after(period);
    expiry_timer_.async_wait([this](boost::system::error_code error) {
      expiry_scheduled_ = false;
      if (error)
        return;
      expire_waiting();
      if (waiting_count_.load() > 0)
        schedule_expiry();
    });
  });
}

void Database::expire_waiting() {
  const auto now = Clock::now();
  std::vector<CallPointer> expired;
  {
    std::lock_guard<std::mutex> lock(waiting_mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if ((*it)->deadline <= now) {
        expired.push_back(std::move(*it));
        it = waiting_.erase(it);
        --waiting_count_;
      } else {
        ++it;
      }
    }
  }
  metrics_.pool_waiting_add(-static_cast<std::int64_t>(expired.size()));
  for (auto &call : expired)
    call->done(forwarder_.failure_answer(DatabaseFailure::busy));
}

// stop closes each connection on its thread and stops the expiry timer.
void Database::stop() {
  stopping_ = true;
  for (auto &connection : connections_)
    net::post(connection->io(), [raw = connection.get()] { raw->close(); });
  net::post(threads_.context(0), [this] { expiry_timer_.cancel(); });
}

} // namespace authflow::gateway
