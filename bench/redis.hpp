// redis.hpp: a small hiredis wrapper: one command, one round trip; pipelining only for loading.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace authflow::bench {

using Reply = std::unique_ptr<redisReply, void (*)(void *)>;

class Redis {
public:
  explicit Redis(const std::string &socket);
  ~Redis();
  Redis(const Redis &) = delete;
  Redis &operator=(const Redis &) = delete;

  // command sends one command and waits for its reply; throws on a connection error.
  Reply command(const std::vector<std::string> &arguments);
  // append queues a command; reply reads the next queued reply (pipelining).
  void append(const std::vector<std::string> &arguments);
  Reply reply();

private:
  redisContext *context_;
};

} // namespace authflow::bench
