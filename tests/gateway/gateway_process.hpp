// gateway_process.hpp: runs the real authflow-gateway binary for a test and reads its stdout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace authflow::testing {

class GatewayProcess {
public:
  // GatewayProcess starts the binary on 127.0.0.1 port 0 with extra flags and waits (bounded)
  // for its "listening on" line; it throws when the gateway does not come up.
  explicit GatewayProcess(const std::vector<std::string> &flags);
  ~GatewayProcess();

  GatewayProcess(const GatewayProcess &) = delete;
  GatewayProcess &operator=(const GatewayProcess &) = delete;

  // port is the port the gateway reported in its listening line.
  unsigned short port() const { return port_; }

  // lines returns the stdout lines read so far.
  std::vector<std::string> lines() const;

  // wait_for_line waits until some line satisfies the predicate; false on timeout.
  bool wait_for_line(const std::function<bool(const std::string &)> &predicate, std::chrono::milliseconds timeout);

  // send_signal delivers a signal to the gateway.
  void send_signal(int signal);

  // wait_exit waits until stdout closes, then reaps the process: its exit code, or -1 when it
  // did not exit in time (or died by a signal).
  int wait_exit(std::chrono::milliseconds timeout);

private:
  // read_output runs on a thread: splits stdout into lines until end of file.
  void read_output();

  pid_t pid_ = -1;
  int output_ = -1;
  unsigned short port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  bool closed_ = false;
  std::thread reader_;
};

// gateway_binary is the path of the binary under test (set by CMake).
std::string gateway_binary();

} // namespace authflow::testing
