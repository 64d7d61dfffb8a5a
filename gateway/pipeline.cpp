// pipeline.cpp: see pipeline.hpp.
#include "pipeline.hpp"

#include "database.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iostream>

namespace authflow::gateway {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// A head call without a result for this long marks its connection stalled: new calls go to
// other connections while one of them is not (a slow statement holds up only what is behind it).
constexpr std::chrono::milliseconds stall_time{10};

// A connection that answers nothing for this long past the statement timeout is taken for dead
// (a database host that vanished without closing the socket).
constexpr std::chrono::seconds silence_grace{5};

std::int64_t nanoseconds(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

// failed tells a statement's result that is not a success.
bool failed(const PGresult *result) {
  return PQresultStatus(result) != PGRES_TUPLES_OK && PQresultStatus(result) != PGRES_COMMAND_OK;
}

// ignore_notice drops server notices: one could quote request data, and nothing reads them.
void ignore_notice(void *, const char *) {}

} // namespace

PipelineConnection::PipelineConnection(net::io_context &io, std::size_t thread, Database &database,
                                       const Config &config, const Forwarder &forwarder, Metrics &metrics)
    : io_(io), thread_(thread), database_(database), config_(config), forwarder_(forwarder), metrics_(metrics),
      connect_timer_(io), retry_timer_(io), watchdog_(io) {}

// ~PipelineConnection runs after the IO threads stopped; close() normally ran before.
PipelineConnection::~PipelineConnection() { finish_connection(); }

bool PipelineConnection::accepting() const {
  return state() == State::ready && in_flight() < static_cast<int>(config_.pipeline_depth);
}

bool PipelineConnection::stalled(Clock::time_point now) const {
  return in_flight() > 0 && nanoseconds(now) - progress_at_.load(std::memory_order_relaxed) >
                                std::chrono::duration_cast<std::chrono::nanoseconds>(stall_time).count();
}

// connect starts PQconnectStart/PQconnectPoll: no step blocks the thread on the network (a host
// name is still resolved by libpq itself, synchronously). libpq ignores connect_timeout in this
// mode, so a timer bounds the attempt.
void PipelineConnection::connect() {
  if (state() != State::down)
    return;
  retry_timer_.cancel();
  state_ = State::connecting;
  const unsigned attempt = ++attempt_;
  connection_ = PQconnectStart(config_.database.c_str());
  if (connection_ == nullptr || PQstatus(connection_) == CONNECTION_BAD) {
    broken(DatabaseFailure::connection, false);
    return;
  }
  PQsetNoticeProcessor(connection_, ignore_notice, nullptr);
  connect_timer_.expires_after(std::max<std::chrono::milliseconds>(std::chrono::seconds(2), config_.request_timeout));
  connect_timer_.async_wait([this, attempt](boost::system::error_code error) {
    if (!error && attempt == attempt_ && state() == State::connecting) {
      std::cerr << "authflow-gateway: connecting to the database timed out\n";
      broken(DatabaseFailure::connection, false);
    }
  });
  poll_connect(PGRES_POLLING_WRITING);
}

// watch wraps libpq's socket; during the connection's set-up libpq may replace it (another host,
// SSL refused), and a new socket may even reuse the old number, so every step registers anew.
bool PipelineConnection::watch() {
  if (socket_) {
    socket_->release();
    socket_.reset();
    ++generation_;
    read_armed_ = write_armed_ = false;
  }
  const int fd = PQsocket(connection_);
  if (fd < 0)
    return false;
  boost::system::error_code error;
  socket_.emplace(io_);
  socket_->assign(fd, error);
  if (error) {
    socket_.reset();
    return false;
  }
  return true;
}

// poll_connect waits as PQconnectPoll asked, then calls it again.
void PipelineConnection::poll_connect(PostgresPollingStatusType status) {
  if (status == PGRES_POLLING_OK) {
    connected();
    return;
  }
  if (status == PGRES_POLLING_FAILED || !watch()) {
    broken(DatabaseFailure::connection, false);
    return;
  }
  const auto wait = status == PGRES_POLLING_READING ? net::posix::stream_descriptor::wait_read
                                                    : net::posix::stream_descriptor::wait_write;
  socket_->async_wait(wait, [this, generation = generation_](boost::system::error_code error) {
    if (generation != generation_ || state() != State::connecting)
      return;
    if (error) {
      broken(DatabaseFailure::connection, false);
      return;
    }
    poll_connect(PQconnectPoll(connection_));
  });
}

// connected: non-blocking, pipeline mode, then the set-up (settings and the prepared statement)
// in one synchronisation point, so it costs one round trip.
void PipelineConnection::connected() {
  if (PQsetnonblocking(connection_, 1) != 0 || PQenterPipelineMode(connection_) != 1 || !watch()) {
    broken(DatabaseFailure::connection, false);
    return;
  }
  const std::string timeout = forwarder_.statement_timeout();
  const char *values[1] = {timeout.c_str()};
  setup_sent_ = std::chrono::system_clock::now();
  if (PQsendQueryParams(connection_, Forwarder::setup_sql(), 1, nullptr, values, nullptr, nullptr, 0) != 1 ||
      PQsendPrepare(connection_, Forwarder::statement_name(), forwarder_.statement().c_str(), 5, nullptr) != 1 ||
      PQpipelineSync(connection_) != 1) {
    broken(DatabaseFailure::connection, false);
    return;
  }
  Pending setup;
  setup.statements = 2;
  pending_.push_back(std::move(setup));
  wait(net::posix::stream_descriptor::wait_read);
  flush();
}

// send: method, target, headers, body and the deadline on the database's clock. Text
// parameters travel as C strings: a body with NUL never gets here (the session refuses it).
bool PipelineConnection::send(CallPointer &call) {
  if (state() != State::ready)
    return false;
  int sent;
  if (call->ping) {
    sent = PQsendQueryParams(connection_, "SELECT 1", 0, nullptr, nullptr, nullptr, nullptr, 0);
  } else {
    const double deadline =
        std::chrono::duration<double>(call->deadline_wall.time_since_epoch()).count() + clock_offset_;
    char deadline_text[32];
    std::snprintf(deadline_text, sizeof deadline_text, "%.6f", deadline);
    const char *values[5] = {call->request.method.c_str(), call->request.target.c_str(),
                             call->request.headers_json.c_str(), call->request.body.c_str(), deadline_text};
    sent = PQsendQueryPrepared(connection_, Forwarder::statement_name(), 5, values, nullptr, nullptr, 0);
  }
  if (sent != 1 || PQpipelineSync(connection_) != 1) {
    broken(DatabaseFailure::connection, true);
    return false;
  }
  if (pending_.empty() || (pending_.size() == 1 && !pending_.front().call))
    progress();
  Pending pending;
  pending.call = std::move(call);
  pending_.push_back(std::move(pending));
  set_in_flight(in_flight() + 1);
  metrics_.pool_in_flight_add(1);
  arm_watchdog();
  flush();
  return true;
}

// flush: 0 all sent, 1 more to send (wait until writable), -1 the connection is gone.
void PipelineConnection::flush() {
  if (connection_ == nullptr)
    return;
  const int flushed = PQflush(connection_);
  if (flushed < 0) {
    broken(DatabaseFailure::connection, true);
  } else if (flushed > 0) {
    wait(net::posix::stream_descriptor::wait_write);
  }
}

// wait arms one wait of a kind (at most one at a time): readable goes on to on_readable,
// writable to flush.
void PipelineConnection::wait(net::posix::stream_descriptor::wait_type type) {
  const bool reading = type == net::posix::stream_descriptor::wait_read;
  bool &armed = reading ? read_armed_ : write_armed_;
  if (armed || !socket_)
    return;
  armed = true;
  socket_->async_wait(type, [this, reading, generation = generation_](boost::system::error_code error) {
    if (generation != generation_)
      return;
    (reading ? read_armed_ : write_armed_) = false;
    if (error) {
      broken(DatabaseFailure::connection, true);
    } else if (reading) {
      on_readable();
    } else {
      flush();
    }
  });
}

// more_input: Asio's epoll reactor is edge-triggered, and PQconsumeInput reads at most what fits
// its buffer, so bytes left in the kernel (or inside OpenSSL) would never wake us again.
bool PipelineConnection::more_input() const {
  if (PQsslInUse(connection_)) {
    auto *ssl = static_cast<SSL *>(PQsslStruct(connection_, "OpenSSL"));
    if (ssl != nullptr && SSL_pending(ssl) > 0)
      return true;
  }
  char byte;
  return ::recv(PQsocket(connection_), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// on_readable reads what arrived and finishes the calls it answers; also an idle connection
// reads, so a database that closes it (restart, idle timeout) is noticed before any call.
void PipelineConnection::on_readable() {
  for (int round = 0; round < 64; ++round) {
    if (PQconsumeInput(connection_) != 1) {
      broken(DatabaseFailure::connection, true);
      return;
    }
    if (!collect())
      return;
    if (!more_input()) {
      wait(net::posix::stream_descriptor::wait_read);
      flush();
      return;
    }
  }
  // Still more: go on after the other handlers of this thread had their turn (an armed wait
  // would not fire for bytes already there).
  net::post(io_, [this, generation = generation_] {
    if (generation == generation_)
      on_readable();
  });
  flush();
}

// collect walks the results libpq has complete: each statement's result, then the NULL that ends
// it; after a call's statements, the PGRES_PIPELINE_SYNC of its synchronisation point. false when
// the connection broke on the way (every call in flight has been answered then).
bool PipelineConnection::collect() {
  while (!pending_.empty()) {
    if (PQstatus(connection_) == CONNECTION_BAD) {
      broken(DatabaseFailure::connection, true);
      return false;
    }
    if (PQisBusy(connection_))
      return true;
    PGresult *result = PQgetResult(connection_);
    Pending &head = pending_.front();
    if (head.statements > 0) {
      if (head.awaiting_end) {
        if (result == nullptr) {
          head.awaiting_end = false;
          --head.statements;
        } else {
          PQclear(result); // a second result of one statement: only the first counts
        }
        continue;
      }
      if (result == nullptr)
        return true; // nothing more yet
      // The first result decides; a later failure of the same point (the set-up's) overrides it.
      if (head.result == nullptr || (failed(result) && !failed(head.result))) {
        PQclear(head.result);
        head.result = result;
      } else {
        PQclear(result);
      }
      head.awaiting_end = true;
      continue;
    }
    if (result == nullptr)
      return true;
    const bool synced = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
    PQclear(result);
    if (!synced)
      continue;
    Pending done = std::move(head);
    pending_.pop_front();
    progress();
    if (done.call) {
      set_in_flight(in_flight() - 1);
      metrics_.pool_in_flight_add(-1);
    }
    finish(done);
    if (state() != State::ready && state() != State::connecting)
      return false;
  }
  return true;
}

// finish answers the call, or gives it back to the database to be sent again.
void PipelineConnection::finish(Pending &pending) {
  if (!pending.call) {
    set_up(pending.result);
    PQclear(pending.result);
    pending.result = nullptr;
    return;
  }
  Outcome outcome = forwarder_.outcome(*pending.call, pending.result);
  PQclear(pending.result);
  pending.result = nullptr;
  if (outcome.kind == Outcome::Kind::answer) {
    pending.call->done(std::move(outcome.answer));
  } else {
    database_.submit(std::move(pending.call));
  }
  database_.connection_ready(*this);
}

// set_up: the connection serves from now on; its clock offset comes from the round trip's middle.
void PipelineConnection::set_up(const PGresult *result) {
  if (result == nullptr || PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) {
    const char *state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const DatabaseFailure failure = classify_state(state == nullptr ? "" : state);
    std::cerr << "authflow-gateway: setting up a database connection failed with SQLSTATE "
              << (state == nullptr ? "(none)" : state) << "\n";
    broken(failure, false);
    return;
  }
  const auto received = std::chrono::system_clock::now();
  const double middle =
      std::chrono::duration<double>((setup_sent_ + (received - setup_sent_) / 2).time_since_epoch()).count();
  clock_offset_ = std::atof(PQgetvalue(result, 0, 2)) - middle;
  connect_timer_.cancel();
  failed_attempts_ = 0;
  state_ = State::ready;
  metrics_.pool_ready_add(1);
  database_.connection_ready(*this);
}

// broken: every call in flight is answered 503, exactly once (it may or may not have run); the
// connection reconnects at once after it had worked, with a growing pause after failed attempts.
void PipelineConnection::broken(DatabaseFailure failure, bool retry_soon) {
  if (state() == State::closed)
    return;
  if (state() == State::ready)
    metrics_.pool_ready_add(-1);
  finish_connection();
  std::deque<Pending> lost;
  lost.swap(pending_);
  const int calls = in_flight();
  set_in_flight(0);
  metrics_.pool_in_flight_add(-calls);
  state_ = State::down;
  if (!retry_soon)
    ++failed_attempts_;
  for (auto &pending : lost) {
    PQclear(pending.result);
    pending.result = nullptr;
    if (pending.call)
      pending.call->done(forwarder_.failure_answer(DatabaseFailure::connection));
  }
  database_.connection_down(*this, failure);
  schedule_reconnect();
}

// finish_connection releases the socket from Asio before libpq closes it.
void PipelineConnection::finish_connection() {
  if (socket_) {
    socket_->release();
    socket_.reset();
  }
  ++generation_;
  read_armed_ = write_armed_ = false;
  connect_timer_.cancel();
  watchdog_.cancel();
  watchdog_armed_ = false;
  if (connection_ != nullptr) {
    PQfinish(connection_);
    connection_ = nullptr;
  }
}

void PipelineConnection::schedule_reconnect() {
  if (state() != State::down)
    return;
  auto pause = std::chrono::milliseconds(0);
  if (failed_attempts_ > 0)
    pause = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(250 << std::min(failed_attempts_ - 1, 4)),
                                                std::chrono::seconds(4));
  retry_timer_.expires_after(pause);
  retry_timer_.async_wait([this](boost::system::error_code error) {
    if (!error)
      connect();
  });
}

// arm_watchdog: one timer while calls are in flight, moved on lazily (not on every result).
void PipelineConnection::arm_watchdog() {
  if (watchdog_armed_)
    return;
  watchdog_armed_ = true;
  const auto limit = config_.request_timeout + silence_grace;
  watchdog_.expires_at(Clock::time_point(std::chrono::nanoseconds(progress_at_.load())) + limit);
  watchdog_.async_wait([this, generation = generation_, limit](boost::system::error_code error) {
    if (error || generation != generation_)
      return;
    watchdog_armed_ = false;
    if (in_flight() == 0)
      return;
    if (Clock::now() - Clock::time_point(std::chrono::nanoseconds(progress_at_.load())) >= limit) {
      std::cerr << "authflow-gateway: the database sent nothing for too long; reconnecting\n";
      broken(DatabaseFailure::connection, true);
      return;
    }
    arm_watchdog();
  });
}

void PipelineConnection::progress() { progress_at_.store(nanoseconds(Clock::now()), std::memory_order_relaxed); }

void PipelineConnection::set_in_flight(int count) {
  const int before = in_flight_.exchange(count, std::memory_order_relaxed);
  if ((before > 0) != (count > 0))
    metrics_.pool_busy_add(count > 0 ? 1 : -1);
}

// close: at shutdown no call should be left; any that is gets its 503.
void PipelineConnection::close() {
  retry_timer_.cancel();
  if (state() != State::closed)
    broken(DatabaseFailure::connection, true);
  state_ = State::closed;
  retry_timer_.cancel();
}

} // namespace authflow::gateway
