// server.cpp: see server.hpp.
#include "server.hpp"

#include "session.hpp"

#include <vector>

namespace authflow::gateway {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Server's acceptor runs on thread 0; each connection is handed to the next IO thread in turn.
Server::Server(Services services) : services_(services), acceptor_(services.threads.context(0)) {}

// listen opens the socket with SO_REUSEADDR so that a restarted gateway can bind at once.
tcp::endpoint Server::listen() {
  auto address = net::ip::make_address(services_.config.listen_host);
  tcp::endpoint endpoint(address, services_.config.listen_port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  return acceptor_.local_endpoint();
}

// start_accepting is called once, after listen().
void Server::start_accepting() { accept_next(); }

// accept_next hands every new socket to a Session on its IO thread, unless the server is draining.
void Server::accept_next() {
  acceptor_.async_accept(services_.threads.next(), [this](boost::system::error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted || !acceptor_.is_open())
      return;
    if (!error) {
      if (draining()) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), *this)->start();
      }
    }
    // Errors such as "too many open files" end one accept, not the loop.
    accept_next();
  });
}

// drain runs once, from the signal handler.
void Server::drain(std::function<void()> drained) {
  if (draining_.exchange(true))
    return;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<Session>> open;
  {
    std::unique_lock<std::mutex> lock(sessions_mutex_);
    drained_ = std::move(drained);
    for (auto &[key, weak] : sessions_) {
      if (auto session = weak.lock())
        open.push_back(std::move(session));
    }
    maybe_drained(lock);
  }
  for (auto &session : open)
    session->drain();
}

// remember is called by a session as it starts.
void Server::remember(const std::shared_ptr<Session> &session) {
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  sessions_[session.get()] = session;
}

// forget is called by a session's destructor.
void Server::forget(const Session *session) {
  std::unique_lock<std::mutex> lock(sessions_mutex_);
  sessions_.erase(session);
  maybe_drained(lock);
}

void Server::maybe_drained(std::unique_lock<std::mutex> &lock) {
  if (!draining() || !sessions_.empty() || !drained_)
    return;
  auto drained = std::move(drained_);
  drained_ = nullptr;
  lock.unlock();
  drained();
  lock.lock();
}

} // namespace authflow::gateway
