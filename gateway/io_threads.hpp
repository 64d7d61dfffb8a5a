// io_threads.hpp: the gateway's threads, each running its own io_context. A client connection
// and a database connection each belong to one of them for their whole life, so a request is
// read, sent to the database, answered and written without a lock or a thread switch when its
// client and its database connection share a thread.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace authflow::gateway {

class IoThreads {
public:
  explicit IoThreads(std::size_t count);

  std::size_t size() const { return contexts_.size(); }

  // context is the io_context of thread i.
  boost::asio::io_context &context(std::size_t i) { return *contexts_[i]; }

  // next picks the thread of a new client connection, in turn.
  boost::asio::io_context &next();

  // run runs thread 0 on the caller and the others on new threads; it returns when every
  // io_context has run out of work after release().
  void run();

  // release lets the io_contexts stop once their last handler ran (after the drain).
  void release();

  // current is the index of the calling thread among the IO threads, npos elsewhere.
  static std::size_t current();
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::optional<Guard>> guards_;
  std::atomic<std::size_t> next_{0};
};

} // namespace authflow::gateway
