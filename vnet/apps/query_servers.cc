// vnet/apps/query_servers — UDP and DNS-over-TCP servers through a function of the query's bytes.
#include "vnet/apps/query_servers.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkn::vnet::apps_internal {
namespace {

// A UDP server: each datagram through the answer function, its answer (if any) back to the
// sender. What the function drops gets nothing (it counts them). udp-echo's function is the
// identity; the world's DNS is lib/dns. `info` (udp-echo's) lives as long as the socket.
class UdpServer : public Closable, public std::enable_shared_from_this<UdpServer> {
 public:
  UdpServer(asio::io_context& io, int fd, AppServer::DnsAnswer answer,
            std::shared_ptr<AppInfo> info = nullptr)
      : sock_(io, udp::v4(), fd), answer_(std::move(answer)), info_(std::move(info)) {}
  void Receive() {
    // A closed socket (the pod was killed) must not be re-armed: it would fail at once, forever.
    sock_.async_receive_from(
        asio::buffer(data_), peer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (ec)
            return self->Receive();  // e.g. an ICMP error of an earlier send: the socket is fine
          std::optional<std::string> a =
              self->answer_(std::string_view(self->data_.data(), n), /*tcp=*/false);
          if (!a) return self->Receive();
          self->out_ = std::move(*a);
          self->sock_.async_send_to(asio::buffer(self->out_), self->peer_,
                                    [self](beast::error_code, size_t) {
                                      if (self->sock_.is_open()) self->Receive();
                                    });
        });
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }

 private:
  udp::socket sock_;
  udp::endpoint peer_;
  AppServer::DnsAnswer answer_;
  std::shared_ptr<AppInfo> info_;
  std::array<char, 65536> data_;
  std::string out_;
};

// DNS over TCP (RFC 7766): messages with a two-byte length, several per connection, answered in
// order; a dropped query or a read error ends the connection.
class TcpDnsSession : public Closable, public std::enable_shared_from_this<TcpDnsSession> {
 public:
  TcpDnsSession(tcp::socket s, AppServer::DnsAnswer answer)
      : sock_(std::move(s)), answer_(std::move(answer)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }
  void Read() {
    asio::async_read(
        sock_, asio::buffer(len_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return;
          self->in_.resize(static_cast<size_t>(self->len_[0]) << 8 | self->len_[1]);
          asio::async_read(
              self->sock_, asio::buffer(self->in_), [self](beast::error_code ec, size_t) {
                if (ec) return;
                std::optional<std::string> a = self->answer_(self->in_, /*tcp=*/true);
                if (!a || a->size() > 65535) return self->Close();
                self->out_.assign(
                    {static_cast<char>(a->size() >> 8), static_cast<char>(a->size() & 0xff)});
                self->out_ += *a;
                asio::async_write(self->sock_, asio::buffer(self->out_),
                                  [self](beast::error_code ec, size_t) {
                                    if (!ec) self->Read();
                                  });
              });
        });
  }

 private:
  tcp::socket sock_;
  AppServer::DnsAnswer answer_;
  std::array<uint8_t, 2> len_{};
  std::string in_, out_;
};

class TcpDns : public Closable, public std::enable_shared_from_this<TcpDns> {
 public:
  TcpDns(asio::io_context& io, int fd, AppServer::DnsAnswer answer)
      : acc_(io, tcp::v4(), fd), answer_(std::move(answer)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto session = std::make_shared<TcpDnsSession>(std::move(s), self->answer_);
        std::erase_if(self->sessions_, [](const auto& w) { return w.expired(); });
        self->sessions_.push_back(session);
        session->Read();
      }
      if (self->acc_.is_open()) self->Accept();
    });
  }
  void Close() override {
    beast::error_code ec;
    acc_.close(ec);
    for (auto& w : sessions_) {
      if (auto c = w.lock()) c->Close();
    }
  }

 private:
  tcp::acceptor acc_;
  AppServer::DnsAnswer answer_;
  std::vector<std::weak_ptr<Closable>> sessions_;
};

}  // namespace

std::shared_ptr<Closable> StartUdpServer(asio::io_context& io, int fd, AppServer::DnsAnswer answer,
                                         std::shared_ptr<AppInfo> info) {
  auto u = std::make_shared<UdpServer>(io, fd, std::move(answer), std::move(info));
  u->Receive();
  return u;
}

std::shared_ptr<Closable> StartTcpDns(asio::io_context& io, int fd, AppServer::DnsAnswer answer) {
  auto t = std::make_shared<TcpDns>(io, fd, std::move(answer));
  t->Accept();
  return t;
}

}  // namespace mkn::vnet::apps_internal
