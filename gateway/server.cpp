// server.cpp: see server.hpp.
#include "server.hpp"

#include "session.hpp"

#include <vector>

namespace authflow::gateway {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Server's acceptor runs on its own strand; each connection gets another.
Server::Server(Services services) : services_(services), acceptor_(net::make_strand(services.io)) {}

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

// accept_next hands every new socket to a Session, unless the server is draining.
void Server::accept_next() {
  acceptor_.async_accept(net::make_strand(services_.io), [this](boost::system::error_code error, tcp::socket socket) {
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
void Server::drain() {
  if (draining_.exchange(true))
    return;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    for (auto &[key, weak] : sessions_) {
      if (auto session = weak.lock())
        open.push_back(std::move(session));
    }
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
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  sessions_.erase(session);
}

} // namespace authflow::gateway
