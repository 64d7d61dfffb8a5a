// redis.cpp: see redis.hpp.
#include "redis.hpp"

#include <stdexcept>

namespace authflow::bench {

namespace {
void pack(const std::vector<std::string> &arguments, std::vector<const char *> &argv, std::vector<size_t> &lengths) {
  argv.clear();
  lengths.clear();
  for (const auto &argument : arguments) {
    argv.push_back(argument.data());
    lengths.push_back(argument.size());
  }
}
} // namespace

Redis::Redis(const std::string &socket) : context_(redisConnectUnix(socket.c_str())) {
  if (context_ == nullptr || context_->err) {
    std::string message = context_ ? context_->errstr : "out of memory";
    if (context_)
      redisFree(context_);
    throw std::runtime_error("redis " + socket + ": " + message);
  }
}

Redis::~Redis() { redisFree(context_); }

Reply Redis::command(const std::vector<std::string> &arguments) {
  std::vector<const char *> argv;
  std::vector<size_t> lengths;
  pack(arguments, argv, lengths);
  void *raw = redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (raw == nullptr)
    throw std::runtime_error(std::string("redis: ") + context_->errstr);
  return Reply(static_cast<redisReply *>(raw), freeReplyObject);
}

void Redis::append(const std::vector<std::string> &arguments) {
  std::vector<const char *> argv;
  std::vector<size_t> lengths;
  pack(arguments, argv, lengths);
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK)
    throw std::runtime_error(std::string("redis: ") + context_->errstr);
}

Reply Redis::reply() {
  void *raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr)
    throw std::runtime_error(std::string("redis: ") + context_->errstr);
  return Reply(static_cast<redisReply *>(raw), freeReplyObject);
}

} // namespace authflow::bench
