// gateway_process.cpp: see gateway_process.hpp.
#include "gateway_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace authflow::testing {

// gateway_binary comes from a compile definition.
std::string gateway_binary() { return AUTHFLOW_GATEWAY_BINARY; }

// GatewayProcess forks and execs; only async-signal-safe calls happen in the child.
GatewayProcess::GatewayProcess(const std::vector<std::string> &flags) {
  std::vector<std::string> arguments = {gateway_binary(), "--listen", "127.0.0.1:0"};
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  std::vector<char *> argv;
  for (auto &argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);

  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipe_ends[1], STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_ends[1]);
  output_ = pipe_ends[0];
  reader_ = std::thread([this] { read_output(); });

  const std::string prefix = "listening on 127.0.0.1:";
  std::string listening;
  bool up = wait_for_line(
      [&](const std::string &line) {
        if (line.rfind(prefix, 0) != 0)
          return false;
        listening = line;
        return true;
      },
      std::chrono::seconds(20));
  if (!up)
    throw std::runtime_error("the gateway printed no listening line");
  port_ = static_cast<unsigned short>(std::stoi(listening.substr(prefix.size())));
}

// ~GatewayProcess kills a gateway the test left running.
GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable())
    reader_.join();
  if (output_ >= 0)
    ::close(output_);
}

// read_output keeps the pipe drained so that the gateway never blocks on its access log.
void GatewayProcess::read_output() {
  std::string pending;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(output_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    pending.append(chunk, static_cast<std::size_t>(n));
    std::size_t newline;
    std::lock_guard<std::mutex> lock(mutex_);
    while ((newline = pending.find('\n')) != std::string::npos) {
      lines_.push_back(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pending.empty())
    lines_.push_back(pending);
  closed_ = true;
  changed_.notify_all();
}

// lines copies under the lock.
std::vector<std::string> GatewayProcess::lines() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lines_;
}

// wait_for_line re-checks every line each time new output arrives.
bool GatewayProcess::wait_for_line(const std::function<bool(const std::string &)> &predicate,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const auto &line : lines_) {
      if (predicate(line))
        return true;
    }
    return closed_;
  }) && std::any_of(lines_.begin(), lines_.end(), predicate);
}

// send_signal is a no-op once the process was reaped.
void GatewayProcess::send_signal(int signal) {
  if (pid_ > 0)
    ::kill(pid_, signal);
}

// wait_exit relies on the pipe: the gateway's stdout closes only when it exits.
int GatewayProcess::wait_exit(std::chrono::milliseconds timeout) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [this] { return closed_; }))
      return -1;
  }
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_)
    return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace authflow::testing
