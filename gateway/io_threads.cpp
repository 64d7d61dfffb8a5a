// io_threads.cpp: see io_threads.hpp.
#include "io_threads.hpp"

#include <thread>

namespace authflow::gateway {
namespace {
thread_local std::size_t current_thread = IoThreads::npos;
} // namespace

// IoThreads makes one single-threaded io_context per thread (concurrency hint 1: Asio may skip
// the locks a shared one needs), each kept alive by a work guard until release().
IoThreads::IoThreads(std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

// next is round robin.
boost::asio::io_context &IoThreads::next() { return *contexts_[next_.fetch_add(1) % contexts_.size()]; }

// run marks each thread with its index before running its io_context.
void IoThreads::run() {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([this, i] {
      current_thread = i;
      contexts_[i]->run();
    });
  }
  current_thread = 0;
  contexts_[0]->run();
  for (auto &thread : threads)
    thread.join();
  current_thread = npos;
}

// release posts the guard's reset to each io_context's own thread.
void IoThreads::release() {
  for (std::size_t i = 0; i < contexts_.size(); ++i)
    boost::asio::post(*contexts_[i], [this, i] { guards_[i].reset(); });
}

std::size_t IoThreads::current() { return current_thread; }

} // namespace authflow::gateway
