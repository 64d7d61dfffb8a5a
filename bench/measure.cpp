// measure.cpp: see measure.hpp.
#include "measure.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace authflow::bench {

double Measurement::percentile_us(double fraction) const {
  if (latencies_ns.empty())
    return 0;
  std::vector<std::uint64_t> sorted = latencies_ns;
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index), sorted.end());
  return static_cast<double>(sorted[index]) / 1000.0;
}

void Measurement::add(Measurement other) {
  ops += other.ops;
  errors += other.errors;
  exhausted += other.exhausted;
  seconds += other.seconds;
  if (latencies_ns.empty()) {
    latencies_ns = std::move(other.latencies_ns);
  } else {
    latencies_ns.insert(latencies_ns.end(), other.latencies_ns.begin(), other.latencies_ns.end());
  }
}

Measurement run_timed(const std::vector<Operation> &operations, double seconds, const std::atomic<bool> *stop) {
  const std::size_t n = operations.size();
  std::vector<Measurement> parts(n);
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t ready = 0;
  bool started = false;
  Clock::time_point deadline;

  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      Measurement &part = parts[i];
      part.latencies_ns.reserve(1 << 16);
      {
        std::unique_lock<std::mutex> lock(mutex);
        ++ready;
        changed.notify_all();
        changed.wait(lock, [&] { return started; });
      }
      const Operation &operation = operations[i];
      for (;;) {
        auto begin = Clock::now();
        if (begin >= deadline || (stop != nullptr && stop->load(std::memory_order_relaxed)))
          break;
        bool ok = false;
        try {
          ok = operation();
        } catch (const Exhausted &) {
          ++part.exhausted;
          break;
        } catch (...) {
          ok = false;
        }
        auto end = Clock::now();
        if (ok) {
          ++part.ops;
          part.latencies_ns.push_back(
              static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count()));
        } else {
          ++part.errors;
        }
      }
    });
  }
  Clock::time_point begin;
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return ready == n; });
    begin = Clock::now();
    deadline = begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    started = true;
  }
  changed.notify_all();
  for (auto &thread : threads)
    thread.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  Measurement total;
  for (auto &part : parts)
    total.add(std::move(part));
  total.seconds = elapsed;
  return total;
}

Summary summarize(const Measurement &measurement) {
  Summary summary;
  if (measurement.empty())
    return summary;
  summary.present = true;
  summary.rate = measurement.rate();
  summary.p50_us = measurement.p50_us();
  summary.p99_us = measurement.p99_us();
  summary.errors = measurement.errors;
  return summary;
}

} // namespace authflow::bench
