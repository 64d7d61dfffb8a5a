// database.cpp: see database.hpp.
#include "database.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace authflow::testing {

std::unique_ptr<pqxx::connection> connect() { return std::make_unique<pqxx::connection>(""); }

std::string unique_name(const std::string &prefix) {
  static std::atomic<int> counter{0};
  std::random_device random;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(random());
}

void run_concurrently(int n, const std::function<void(int, pqxx::connection &)> &body) {
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  for (int i = 0; i < n; ++i)
    connections.push_back(connect());

  std::mutex mutex;
  std::condition_variable go;
  int ready = 0;
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        ++ready;
        go.notify_all();
        go.wait(lock, [&] { return ready == n; });
      }
      try {
        body(i, *connections[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto &thread : threads)
    thread.join();
  for (auto &error : errors) {
    if (error)
      std::rethrow_exception(error);
  }
}

int cluster_command(const std::string &args) {
  const char *script = std::getenv("AUTHFLOW_CLUSTER_SCRIPT");
  if (script == nullptr)
    throw std::runtime_error("AUTHFLOW_CLUSTER_SCRIPT is not set (run through make test)");
  return std::system((std::string(script) + " " + args + " >/dev/null").c_str());
}

} // namespace authflow::testing
