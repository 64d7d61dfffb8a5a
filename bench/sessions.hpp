// sessions.hpp: the two session stores under test, behind one interface. Each client thread has
// its own connection and its own sessions: it validates, refreshes and revokes only those.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "measure.hpp"

namespace authflow::bench {

// The users sessions belong to: did:plc:bench<k>, handle bench<k>.test, on both sides.
std::string user_id(long k);
std::string user_handle(long k);

struct Session {
  std::string refresh; // authflow refresh token; in the Valkey design the session id
  std::string access;  // the raw access token
  Clock::time_point issued;
};

class Client {
public:
  explicit Client(std::uint64_t seed, long users) : random_(seed), users_(users) {}
  virtual ~Client() = default;
  // Each operation returns false when the store did not answer as it should.
  virtual bool create() = 0;   // the new session goes to `revocable`
  virtual bool validate() = 0; // the next session of `live`
  virtual bool refresh() = 0;  // the next session of `live`; its new access token replaces the old one
  virtual bool revoke() = 0;   // the last session of `revocable`
  bool mix();                  // 90% validate, 8% refresh, 2% create

  std::vector<Session> live;
  std::vector<std::string> revocable;

protected:
  Session *next_live();
  long random_user();
  std::mt19937_64 random_;
  long users_;
  std::size_t cursor_ = 0;
};

class Side {
public:
  virtual ~Side() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<Client> connect(std::uint64_t seed) = 0;
  // bulk_create makes sessions outside any measurement, as fast as the store allows.
  virtual std::vector<Session> bulk_create(long n) = 0;
  // renew gives sessions fresh access tokens (they live 15 minutes), outside any measurement.
  virtual void renew(std::vector<Session> &sessions) = 0;

  // Handing sessions to clients and taking them back.
  void distribute(std::vector<std::unique_ptr<Client>> &clients);
  void collect(std::vector<std::unique_ptr<Client>> &clients);
  // renew_stale renews the live sessions whose access token is older than ten minutes.
  void renew_stale();

  long users = 1;
  std::vector<Session> live;
  std::vector<std::string> revocable;
};

// authflow through its SQL functions, over libpq (the libpq environment), in one tenant. A
// client's refresh presents the token the last one returned (a new one where the tenant rotates).
std::unique_ptr<Side> make_sql_side(long users, const std::string &tenant = "default");
// The Valkey session design, one command per round trip, against a redis-server unix socket.
std::unique_ptr<Side> make_valkey_side(const std::string &socket, long users);

// Random bytes from OpenSSL's CSPRNG as lowercase hex; SHA-256 as lowercase hex.
std::string random_hex(std::size_t bytes);
std::string sha256_hex(const std::string &text);

} // namespace authflow::bench
