// sessions.cpp: what both sides share (see sessions.hpp).
#include "sessions.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace authflow::bench {

std::string user_id(long k) { return "did:plc:bench" + std::to_string(k); }
std::string user_handle(long k) { return "bench" + std::to_string(k) + ".test"; }

namespace {
std::string to_hex(const unsigned char *bytes, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string hex(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  return hex;
}
} // namespace

std::string random_hex(std::size_t bytes) {
  unsigned char buffer[64];
  if (bytes > sizeof buffer || RAND_bytes(buffer, static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return to_hex(buffer, bytes);
}

std::string sha256_hex(const std::string &text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest);
  return to_hex(digest, sizeof digest);
}

Session *Client::next_live() {
  if (live.empty())
    return nullptr;
  if (cursor_ >= live.size())
    cursor_ = 0;
  return &live[cursor_++];
}

long Client::random_user() { return static_cast<long>(random_() % static_cast<std::uint64_t>(users_)); }

bool Client::mix() {
  auto draw = random_() % 100;
  if (draw < 90)
    return validate();
  if (draw < 98)
    return refresh();
  return create();
}

void Side::distribute(std::vector<std::unique_ptr<Client>> &clients) {
  const std::size_t n = clients.size();
  for (std::size_t i = 0; i < live.size(); ++i)
    clients[i % n]->live.push_back(std::move(live[i]));
  for (std::size_t i = 0; i < revocable.size(); ++i)
    clients[i % n]->revocable.push_back(std::move(revocable[i]));
  live.clear();
  revocable.clear();
}

void Side::collect(std::vector<std::unique_ptr<Client>> &clients) {
  for (auto &client : clients) {
    for (auto &session : client->live)
      live.push_back(std::move(session));
    for (auto &token : client->revocable)
      revocable.push_back(std::move(token));
    client->live.clear();
    client->revocable.clear();
  }
}

void Side::renew_stale() {
  auto limit = Clock::now() - std::chrono::minutes(10);
  std::vector<Session> stale;
  std::vector<Session> fresh;
  for (auto &session : live)
    (session.issued < limit ? stale : fresh).push_back(std::move(session));
  if (!stale.empty())
    renew(stale);
  live = std::move(fresh);
  for (auto &session : stale)
    live.push_back(std::move(session));
}

} // namespace authflow::bench
