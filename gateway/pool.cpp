// pool.cpp: see pool.hpp.
#include "pool.hpp"

namespace authflow::gateway {

// connection opens lazily so that a gateway started before its database still comes up.
pqxx::connection &DatabaseSlot::connection() {
  reused_ = connection_ != nullptr;
  if (!connection_) {
    auto fresh = std::make_unique<pqxx::connection>(conninfo_);
    if (setup_)
      setup_(*fresh);
    connection_ = std::move(fresh);
  }
  return *connection_;
}

// discard drops the connection; its destructor closes the socket if it is still open.
void DatabaseSlot::discard() {
  connection_.reset();
  reused_ = false;
}

// ConnectionPool starts one worker per connection slot.
ConnectionPool::ConnectionPool(std::string conninfo, DatabaseSlot::Setup setup, std::size_t size,
                               std::chrono::milliseconds wait_limit, Metrics &metrics)
    : wait_limit_(wait_limit), metrics_(metrics) {
  metrics_.set_pool_size(size);
  for (std::size_t i = 0; i < size; ++i) {
    slots_.push_back(std::make_unique<DatabaseSlot>(conninfo, setup));
  }
  for (auto &slot : slots_) {
    workers_.emplace_back([this, raw = slot.get()] { work(*raw); });
  }
}

// ~ConnectionPool stops the workers if stop() was not called.
ConnectionPool::~ConnectionPool() { stop(); }

// submit appends to the queue and wakes one worker.
void ConnectionPool::submit(Run run, Expire expire) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::chrono::steady_clock::now(), std::move(run), std::move(expire)});
  }
  metrics_.pool_waiting_add(1);
  ready_.notify_one();
}

// stop is idempotent.
void ConnectionPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto &worker : workers_) {
    if (worker.joinable())
      worker.join();
  }
  for (auto &slot : slots_)
    slot->discard();
}

// work takes tasks in order; one that waited longer than the limit is expired, not run.
void ConnectionPool::work(DatabaseSlot &slot) {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    metrics_.pool_waiting_add(-1);
    if (std::chrono::steady_clock::now() - task.queued > wait_limit_) {
      task.expire();
      continue;
    }
    metrics_.pool_busy_add(1);
    task.run(slot);
    metrics_.pool_busy_add(-1);
  }
}

} // namespace authflow::gateway
