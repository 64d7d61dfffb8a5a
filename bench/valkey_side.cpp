// valkey_side.cpp: the Valkey session design, reproduced command for command. Keys:
//   barazo:session:data:<sid>            the session as JSON, EX 604800 (7 days)
//   barazo:session:access:<sha256(access)> the session id, EX 900 (15 minutes)
//   barazo:session:did:<did>             set of the user's session ids, EXPIRE 604800
// The session id (32 random bytes, hex) is the refresh token; access tokens are 32 random bytes,
// hex, and only their SHA-256 (computed here, in the client) is stored. Every command is its own
// round trip, as the design awaits each one.
#include <chrono>

#include "redis.hpp"
#include "sessions.hpp"

namespace authflow::bench {

namespace {

const std::string data_prefix = "barazo:session:data:";
const std::string access_prefix = "barazo:session:access:";
const std::string did_prefix = "barazo:session:did:";
const std::string session_ttl = "604800";
const std::string access_ttl = "900";
constexpr long access_ttl_ms = 900 * 1000;

long long epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The JSON the design stores. Values are hex, DIDs and handles of the bench: nothing to escape.
std::string session_json(const std::string &sid, const std::string &did, const std::string &handle,
                         const std::string &hash, long long access_expires_at, long long created_at) {
  return "{\"sid\":\"" + sid + "\",\"did\":\"" + did + "\",\"handle\":\"" + handle + "\",\"accessTokenHash\":\"" +
         hash + "\",\"accessTokenExpiresAt\":" + std::to_string(access_expires_at) +
         ",\"createdAt\":" + std::to_string(created_at) + "}";
}

// json_field reads one field of that JSON (string or number); empty when absent.
std::string json_field(const std::string &json, const std::string &name) {
  std::string key = "\"" + name + "\":";
  auto at = json.find(key);
  if (at == std::string::npos)
    return "";
  at += key.size();
  if (at < json.size() && json[at] == '"') {
    auto end = json.find('"', at + 1);
    return end == std::string::npos ? "" : json.substr(at + 1, end - at - 1);
  }
  auto end = json.find_first_of(",}", at);
  return end == std::string::npos ? "" : json.substr(at, end - at);
}

// with_access_hash is the session JSON with a new access token hash and expiry (the rest kept).
std::string with_access_hash(const std::string &json, const std::string &hash, long long access_expires_at) {
  return session_json(json_field(json, "sid"), json_field(json, "did"), json_field(json, "handle"), hash,
                      access_expires_at, std::stoll(json_field(json, "createdAt")));
}

bool is_string(const Reply &reply) { return reply->type == REDIS_REPLY_STRING; }
bool is_ok(const Reply &reply) { return reply->type == REDIS_REPLY_STATUS; }
bool is_integer(const Reply &reply) { return reply->type == REDIS_REPLY_INTEGER; }

class ValkeyClient : public Client {
public:
  ValkeyClient(const std::string &socket, std::uint64_t seed, long users) : Client(seed, users), redis_(socket) {}

  // createSession: SET data, SET access, SADD did, EXPIRE did.
  bool create() override {
    long user = random_user();
    std::string did = user_id(user);
    std::string sid = random_hex(32);
    std::string access = random_hex(32);
    std::string hash = sha256_hex(access);
    long long now = epoch_ms();
    std::string json = session_json(sid, did, user_handle(user), hash, now + access_ttl_ms, now);
    if (!is_ok(redis_.command({"SET", data_prefix + sid, json, "EX", session_ttl})))
      return false;
    if (!is_ok(redis_.command({"SET", access_prefix + hash, sid, "EX", access_ttl})))
      return false;
    if (!is_integer(redis_.command({"SADD", did_prefix + did, sid})))
      return false;
    if (!is_integer(redis_.command({"EXPIRE", did_prefix + did, session_ttl})))
      return false;
    revocable.push_back(sid);
    return true;
  }

  // validateAccessToken: GET access (by hash), GET data, parse.
  bool validate() override {
    Session *session = next_live();
    if (session == nullptr)
      return false;
    auto sid = redis_.command({"GET", access_prefix + sha256_hex(session->access)});
    if (!is_string(sid))
      return false;
    auto data = redis_.command({"GET", data_prefix + std::string(sid->str, sid->len)});
    if (!is_string(data))
      return false;
    return !json_field(std::string(data->str, data->len), "did").empty();
  }

  // refreshSession: GET data, DEL old access, SET new access, SET data (sliding expiry).
  bool refresh() override {
    Session *session = next_live();
    if (session == nullptr)
      return false;
    auto data = redis_.command({"GET", data_prefix + session->refresh});
    if (!is_string(data))
      return false;
    std::string json(data->str, data->len);
    if (!is_integer(redis_.command({"DEL", access_prefix + json_field(json, "accessTokenHash")})))
      return false;
    std::string access = random_hex(32);
    std::string hash = sha256_hex(access);
    if (!is_ok(redis_.command({"SET", access_prefix + hash, session->refresh, "EX", access_ttl})))
      return false;
    auto updated = with_access_hash(json, hash, epoch_ms() + access_ttl_ms);
    if (!is_ok(redis_.command({"SET", data_prefix + session->refresh, updated, "EX", session_ttl})))
      return false;
    session->access = std::move(access);
    session->issued = Clock::now();
    return true;
  }

  // deleteSession (logout): GET data, DEL access, DEL data, SREM did.
  bool revoke() override {
    if (revocable.empty())
      throw Exhausted{};
    std::string sid = std::move(revocable.back());
    revocable.pop_back();
    auto data = redis_.command({"GET", data_prefix + sid});
    if (!is_string(data))
      return false;
    std::string json(data->str, data->len);
    if (!is_integer(redis_.command({"DEL", access_prefix + json_field(json, "accessTokenHash")})))
      return false;
    if (!is_integer(redis_.command({"DEL", data_prefix + sid})))
      return false;
    return is_integer(redis_.command({"SREM", did_prefix + json_field(json, "did"), sid}));
  }

private:
  Redis redis_;
};

class ValkeySide : public Side {
public:
  ValkeySide(std::string socket, long user_count) : socket_(std::move(socket)) { users = user_count; }

  std::string name() const override { return "Valkey design"; }

  std::unique_ptr<Client> connect(std::uint64_t seed) override {
    return std::make_unique<ValkeyClient>(socket_, seed, users);
  }

  // bulk_create issues createSession's four commands per session, pipelined in batches.
  std::vector<Session> bulk_create(long n) override {
    Redis redis(socket_);
    std::mt19937_64 random(static_cast<std::uint64_t>(n) * 7919u + 17u);
    std::vector<Session> made;
    made.reserve(static_cast<std::size_t>(n));
    const long batch = 1000;
    for (long done = 0; done < n; done += batch) {
      long count = std::min(batch, n - done);
      long long now = epoch_ms();
      for (long i = 0; i < count; ++i) {
        long user = static_cast<long>(random() % static_cast<std::uint64_t>(users));
        std::string did = user_id(user), sid = random_hex(32), access = random_hex(32);
        std::string hash = sha256_hex(access);
        redis.append({"SET", data_prefix + sid,
                      session_json(sid, did, user_handle(user), hash, now + access_ttl_ms, now), "EX", session_ttl});
        redis.append({"SET", access_prefix + hash, sid, "EX", access_ttl});
        redis.append({"SADD", did_prefix + did, sid});
        redis.append({"EXPIRE", did_prefix + did, session_ttl});
        made.push_back({sid, access, Clock::now()});
      }
      for (long i = 0; i < 4 * count; ++i)
        redis.reply();
    }
    return made;
  }

  // renew runs refreshSession's commands, pipelined: the GETs first, then the writes.
  void renew(std::vector<Session> &sessions) override {
    Redis redis(socket_);
    const std::size_t batch = 1000;
    for (std::size_t first = 0; first < sessions.size(); first += batch) {
      std::size_t last = std::min(sessions.size(), first + batch);
      for (std::size_t i = first; i < last; ++i)
        redis.append({"GET", data_prefix + sessions[i].refresh});
      std::vector<std::string> data;
      for (std::size_t i = first; i < last; ++i) {
        auto reply = redis.reply();
        data.push_back(is_string(reply) ? std::string(reply->str, reply->len) : "");
      }
      long long now = epoch_ms();
      std::size_t queued = 0;
      for (std::size_t i = first; i < last; ++i) {
        const std::string &json = data[i - first];
        if (json.empty())
          continue;
        std::string access = random_hex(32), hash = sha256_hex(access);
        redis.append({"DEL", access_prefix + json_field(json, "accessTokenHash")});
        redis.append({"SET", access_prefix + hash, sessions[i].refresh, "EX", access_ttl});
        redis.append({"SET", data_prefix + sessions[i].refresh, with_access_hash(json, hash, now + access_ttl_ms), "EX",
                      session_ttl});
        queued += 3;
        sessions[i].access = access;
        sessions[i].issued = Clock::now();
      }
      for (std::size_t i = 0; i < queued; ++i)
        redis.reply();
    }
  }

private:
  std::string socket_;
};

} // namespace

std::unique_ptr<Side> make_valkey_side(const std::string &socket, long users) {
  return std::make_unique<ValkeySide>(socket, users);
}

} // namespace authflow::bench
