// pool.cpp: see pool.hpp.
#include "pool.hpp"

#include <algorithm>

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
  reaper_ = std::thread([this] { expire_overdue(); });
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
  stop_requested_.notify_all();
  for (auto &worker : workers_) {
    if (worker.joinable())
      worker.join();
  }
  if (reaper_.joinable())
    reaper_.join();
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
    auto deliver = task.run(slot);
    metrics_.pool_busy_add(-1);
    if (deliver)
      deliver();
  }
}

// expire_overdue checks the head of the queue a few times per wait limit; the queue is in
// arrival order, so the overdue calls are all at its front.
void ConnectionPool::expire_overdue() {
  auto period = std::clamp(wait_limit_ / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, period, [this] { return stopping_; })) {
    std::vector<Task> overdue;
    auto now = std::chrono::steady_clock::now();
    while (!queue_.empty() && now - queue_.front().queued > wait_limit_) {
      overdue.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (overdue.empty())
      continue;
    lock.unlock();
    metrics_.pool_waiting_add(-static_cast<std::int64_t>(overdue.size()));
    for (auto &task : overdue)
      task.expire();
    lock.lock();
  }
}

} // namespace authflow::gateway
