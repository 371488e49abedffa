// vnet/apps/cluster_dns — the cluster DNS's servers and relay (cluster_dns.h says what each is).
#include "vnet/apps/cluster_dns.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::vnet::apps_internal {

void DnsShared::Count(const dns::Reply& r, AppLog& log, const std::string& peer) {
  std::string line;
  {
    std::lock_guard<std::mutex> l(mu);
    counters.Count(r);
    if (r.verdict != dns::Verdict::kDrop) return;
    ++drops_unlogged;
    auto now = std::chrono::steady_clock::now();
    if (now - last_drop_log < std::chrono::seconds(1)) return;
    last_drop_log = now;
    line = StrCat("dropped ", drops_unlogged, " query(ies), the last from ", peer, ": ",
                  dns::ToString(r.drop), " (", counters.Dropped(), " in all)");
    drops_unlogged = 0;
  }
  log.Line(line);
}

// The relay to a Forwarder ([cluster] world: names under example.test go to the world's DNS). One
// unconnected UDP socket opened inside the DNS pod's namespace, so the query leaves from the pod
// (through its node, which masquerades it) as CoreDNS's forward plugin's would. Each query goes
// out unchanged but for its id: a fresh random one no other outstanding forward holds (the
// client's ids may collide across clients; a random one is not guessed by an off-path sender), and
// the answer comes back with the client's id. Bounded: at most kMaxForwards outstanding (more get
// SERVFAIL at once), and one not answered within kForwardTimeout gets SERVFAIL, well inside glibc's
// 5 s retry, so a dead upstream costs the client a prompt failure rather than its whole timeout.
// An answer is taken only from the forwarder the query went to, with QR set and an id outstanding.
// Upstream is UDP even for a TCP client (the world's answers fit a datagram); IPv4 until the lab
// is dual-stack (the socket's family; an IPv6 forwarder gets SERVFAIL). Io thread only.
constexpr auto kForwardTimeout = std::chrono::seconds(2);
constexpr size_t kMaxForwards = 256;

class DnsRelay : public Closable, public std::enable_shared_from_this<DnsRelay> {
 public:
  using Done = std::function<void(std::vector<uint8_t> answer)>;

  DnsRelay(asio::io_context& io, int fd) : sock_(io, udp::v4(), fd), rng_(std::random_device{}()) {}
  void Start() { Receive(); }
  // `done` gets the forwarder's answer (the client's id back in it) or a SERVFAIL; maybe before
  // this returns (over the bound, no IPv4 server, the socket closed).
  void Forward(const dns::Forwarder& f, std::span<const uint8_t> query, Done done) {
    std::optional<net::Ipv4> server = f.server.V4();
    if (!sock_.is_open() || !server || query.size() < 12 || pending_.size() >= kMaxForwards) {
      return done(dns::Failure(query, dns::Rcode::kServFail));
    }
    uint16_t id = 0;
    do {
      id = static_cast<uint16_t>(rng_());
    } while (pending_.contains(id));
    Pending& p = pending_[id];
    p.client_id = {query[0], query[1]};
    p.query.assign(query.begin(), query.end());
    p.query[0] = static_cast<uint8_t>(id >> 8);
    p.query[1] = static_cast<uint8_t>(id);
    p.upstream = udp::endpoint(asio::ip::address_v4(server->value), static_cast<uint16_t>(f.port));
    p.done = std::move(done);
    p.timer = std::make_unique<asio::steady_timer>(sock_.get_executor(), kForwardTimeout);
    p.timer->async_wait([self = shared_from_this(), id](beast::error_code ec) {
      if (!ec) self->Finish(id, std::nullopt);
    });
    // Its own buffer: the entry (and p.query) may be gone before the send completes.
    auto buf = std::make_shared<std::vector<uint8_t>>(p.query);
    sock_.async_send_to(asio::buffer(*buf), p.upstream,
                        [self = shared_from_this(), id, buf](beast::error_code ec, size_t) {
                          if (ec && ec != asio::error::operation_aborted)
                            self->Finish(id, std::nullopt);
                        });
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
    pending_.clear();  // their timers cancelled; the clients' own sockets are closing too
  }

 private:
  struct Pending {
    std::array<uint8_t, 2> client_id{};
    std::vector<uint8_t> query;  // under the relay's id
    udp::endpoint upstream;
    Done done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void Receive() {
    sock_.async_receive_from(
        asio::buffer(data_), from_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (!ec && n >= 12 && (self->data_[2] & 0x80) != 0) {
            uint16_t id = static_cast<uint16_t>(self->data_[0] << 8 | self->data_[1]);
            auto it = self->pending_.find(id);
            if (it != self->pending_.end() && it->second.upstream == self->from_) {
              self->Finish(id, std::vector<uint8_t>(self->data_.begin(), self->data_.begin() + n));
            }
          }
          self->Receive();
        });
  }
  // The forward of `id` ends: its answer (nullopt: SERVFAIL) goes to its client.
  void Finish(uint16_t id, std::optional<std::vector<uint8_t>> answer) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    p.timer->cancel();
    std::vector<uint8_t> out;
    if (answer) {
      out = std::move(*answer);
      out[0] = p.client_id[0];
      out[1] = p.client_id[1];
    } else {
      p.query[0] = p.client_id[0];
      p.query[1] = p.client_id[1];
      out = dns::Failure(p.query, dns::Rcode::kServFail);
    }
    p.done(std::move(out));
  }

  udp::socket sock_;
  udp::endpoint from_;
  std::mt19937 rng_;
  std::map<uint16_t, Pending> pending_;
  std::array<uint8_t, 65536> data_;
};

namespace {

// One query's outcome: the reply's bytes now; or, for a name a Forwarder serves, `forwarded` and
// `later` gets the relayed answer (or a SERVFAIL) once it is in; or neither (a drop).
struct DnsOutcome {
  std::vector<uint8_t> wire;
  bool forwarded = false;
};
DnsOutcome DnsAnswer(DnsShared& shared, AppLog& log, std::span<const uint8_t> query,
                     dns::Transport t, const std::string& peer, DnsRelay::Done later) {
  std::shared_ptr<const dns::Zone> zone = shared.Zone();
  dns::Reply r = dns::Respond(*zone, query, t);
  shared.Count(r, log, peer);
  if (r.verdict == dns::Verdict::kForward) {
    std::shared_ptr<DnsRelay> relay = shared.relay.lock();
    if (!relay) return {dns::Failure(query, dns::Rcode::kServFail)};
    relay->Forward(*r.forwarder, query, std::move(later));  // copies what it keeps
    return {{}, true};
  }
  return {std::move(r.wire)};
}

class DnsUdp : public Closable, public std::enable_shared_from_this<DnsUdp> {
 public:
  DnsUdp(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info,
         std::shared_ptr<DnsShared> shared)
      : sock_(io, udp::v4(), fd), info_(std::move(info)), shared_(std::move(shared)) {}
  void Receive() {
    sock_.async_receive_from(
        asio::buffer(data_), peer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (ec) return self->Receive();
          DnsOutcome o = DnsAnswer(*self->shared_, *self->info_->log,
                                   std::span<const uint8_t>(self->data_.data(), n),
                                   dns::Transport::kUdp, self->peer_.address().to_string(),
                                   [self, peer = self->peer_](std::vector<uint8_t> wire) {
                                     self->SendLater(std::move(wire), peer);
                                   });
          if (o.wire.empty()) return self->Receive();  // dropped, or relayed
          self->out_ = std::move(o.wire);
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
  // A relayed answer, sent while the socket goes on receiving (its own buffer: out_ may be busy).
  void SendLater(std::vector<uint8_t> wire, const udp::endpoint& to) {
    if (wire.empty() || !sock_.is_open()) return;
    auto buf = std::make_shared<std::vector<uint8_t>>(std::move(wire));
    sock_.async_send_to(asio::buffer(*buf), to,
                        [self = shared_from_this(), buf](beast::error_code, size_t) {});
  }

  udp::socket sock_;
  udp::endpoint peer_;
  std::shared_ptr<AppInfo> info_;
  std::shared_ptr<DnsShared> shared_;
  std::array<uint8_t, 65536> data_;
  std::vector<uint8_t> out_;
};

// DNS over TCP (RFC 7766): two-byte length, message, repeated; the connection closes after
// kDnsTcpIdle without a complete query (a slow or silent client holds no slot for long).
constexpr auto kDnsTcpIdle = std::chrono::seconds(10);
// At most kDnsTcpClients connections in all and kDnsTcpPerClient from one client address, so one
// pod cannot hold every slot (the attack pass did, with 128 idle connections). A connection over
// either bound makes room by closing the oldest idle one (the client's own first, RFC 7766 6.2.2:
// a server under load may close idle connections; the client reconnects when it has a query);
// with none idle it is closed at once.
constexpr size_t kDnsTcpClients = 128;
constexpr size_t kDnsTcpPerClient = 16;

class DnsTcpSession : public Closable, public std::enable_shared_from_this<DnsTcpSession> {
 public:
  DnsTcpSession(tcp::socket s, std::shared_ptr<AppInfo> info, std::shared_ptr<DnsShared> shared)
      : sock_(std::move(s)),
        timer_(sock_.get_executor()),
        info_(std::move(info)),
        shared_(std::move(shared)) {
    beast::error_code ec;
    peer_ = sock_.remote_endpoint(ec).address().to_string();
  }
  void Start() { ReadLength(); }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
    timer_.cancel();
  }
  bool open() const { return sock_.is_open(); }
  // Waiting for a query's first byte: nothing of the client's is in flight.
  bool idle() const { return idle_; }
  const std::string& peer() const { return peer_; }

 private:
  void Arm() {
    timer_.expires_after(kDnsTcpIdle);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Close();
    });
  }
  void ReadLength() {
    Arm();
    idle_ = true;
    asio::async_read(sock_, asio::buffer(len_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->idle_ = false;
                       size_t n = (size_t{self->len_[0]} << 8) | self->len_[1];
                       self->msg_.resize(n);
                       asio::async_read(self->sock_, asio::buffer(self->msg_),
                                        [self](beast::error_code ec, size_t) {
                                          if (ec) return self->Close();
                                          self->Answer();
                                        });
                     });
  }
  void Answer() {
    DnsOutcome o = DnsAnswer(
        *shared_, *info_->log, msg_, dns::Transport::kTcp, peer_,
        [self = shared_from_this()](std::vector<uint8_t> wire) { self->Write(std::move(wire)); });
    if (o.forwarded) return;  // Write runs when the relay has the answer; no read meanwhile
    Write(std::move(o.wire));
  }
  void Write(std::vector<uint8_t> wire) {
    if (!sock_.is_open()) return;
    if (wire.empty()) return Close();  // a malformed query: the stream's framing is not trusted
    out_.assign({static_cast<uint8_t>(wire.size() >> 8), static_cast<uint8_t>(wire.size())});
    out_.insert(out_.end(), wire.begin(), wire.end());
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadLength();
                      });
  }

  tcp::socket sock_;
  asio::steady_timer timer_;
  std::shared_ptr<AppInfo> info_;
  std::shared_ptr<DnsShared> shared_;
  std::string peer_;
  bool idle_ = false;
  std::array<uint8_t, 2> len_{};
  std::vector<uint8_t> msg_, out_;
};

class DnsAcceptor : public Closable, public std::enable_shared_from_this<DnsAcceptor> {
 public:
  DnsAcceptor(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info,
              std::shared_ptr<DnsShared> shared)
      : acc_(io, tcp::v4(), fd), info_(std::move(info)), shared_(std::move(shared)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) self->Admit(std::move(s));
      if (self->acc_.is_open()) self->Accept();
    });
  }
  void Close() override {
    beast::error_code ec;
    acc_.close(ec);
    for (auto& w : info_->sessions) {
      if (auto c = w.lock()) c->Close();
    }
  }

 private:
  // Makes room under both bounds, oldest idle first; a connection that finds none closes here.
  void Admit(tcp::socket s) {
    auto session = std::make_shared<DnsTcpSession>(std::move(s), info_, shared_);
    std::erase_if(open_, [](const std::weak_ptr<DnsTcpSession>& w) {
      auto p = w.lock();
      return !p || !p->open();
    });
    const std::string& peer = session->peer();
    if (!MakeRoom(kDnsTcpPerClient, &peer) || !MakeRoom(kDnsTcpClients, nullptr)) {
      session->Close();
      shared_->CountTcpRefused();
      return;
    }
    open_.push_back(session);
    info_->Track(session);
    session->Start();
  }
  // Closes the oldest idle connection (of `peer`, or of anyone) while there are `bound` or more;
  // false if none is idle to close.
  bool MakeRoom(size_t bound, const std::string* peer) {
    auto mine = [&](const std::shared_ptr<DnsTcpSession>& p) {
      return peer == nullptr || p->peer() == *peer;
    };
    for (;;) {
      size_t n = 0;
      std::shared_ptr<DnsTcpSession> oldest_idle;
      for (const auto& w : open_) {
        auto p = w.lock();
        if (!p || !p->open() || !mine(p)) continue;
        ++n;
        if (!oldest_idle && p->idle()) oldest_idle = p;
      }
      if (n < bound) return true;
      if (!oldest_idle) return false;
      oldest_idle->Close();
      shared_->CountTcpEvicted();
    }
  }

  tcp::acceptor acc_;
  std::shared_ptr<AppInfo> info_;
  std::shared_ptr<DnsShared> shared_;
  // The open connections, oldest first (io thread only).
  std::vector<std::weak_ptr<DnsTcpSession>> open_;
};

}  // namespace

std::shared_ptr<Closable> StartDnsRelay(asio::io_context& io, int fd, DnsShared& shared) {
  auto r = std::make_shared<DnsRelay>(io, fd);
  r->Start();
  shared.relay = r;
  return r;
}

std::shared_ptr<Closable> StartClusterDnsUdp(asio::io_context& io, int fd,
                                             std::shared_ptr<AppInfo> info,
                                             std::shared_ptr<DnsShared> shared) {
  auto u = std::make_shared<DnsUdp>(io, fd, std::move(info), std::move(shared));
  u->Receive();
  return u;
}

std::shared_ptr<Closable> StartClusterDnsTcp(asio::io_context& io, int fd,
                                             std::shared_ptr<AppInfo> info,
                                             std::shared_ptr<DnsShared> shared) {
  auto a = std::make_shared<DnsAcceptor>(io, fd, std::move(info), std::move(shared));
  a->Accept();
  return a;
}

}  // namespace mkn::vnet::apps_internal
