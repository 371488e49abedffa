#include "vnet/apps.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::vnet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace {

// One log file per container, opened on first use.
class AppLog {
 public:
  AppLog(std::string dir, std::string file) : dir_(std::move(dir)), path_(dir_ + "/" + file) {}
  ~AppLog() {
    if (f_ != nullptr) fclose(f_);
  }
  void Line(const std::string& text) {
    std::lock_guard<std::mutex> l(mu_);
    if (f_ == nullptr) {
      std::error_code ec;
      std::filesystem::create_directories(dir_, ec);
      f_ = fopen(path_.c_str(), "ae");
      if (f_ == nullptr) return;
    }
    char ts[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f_, "%s %s\n", ts, text.c_str());
    fflush(f_);
  }

 private:
  std::mutex mu_;
  std::string dir_, path_;
  FILE* f_ = nullptr;
};

// Anything that holds a socket in a pod: a listener or a connection. Closed on the io thread.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void Close() = 0;
};

struct AppInfo {
  plan::StartApp app;
  std::string node;
  std::shared_ptr<AppLog> log;
  // The app's open connections; touched only on the io thread. Closed when the pod is killed, as
  // a dying container's connections are.
  std::vector<std::weak_ptr<Closable>> sessions;
  void Track(const std::shared_ptr<Closable>& c) {
    std::erase_if(sessions, [](const std::weak_ptr<Closable>& w) { return w.expired(); });
    sessions.push_back(c);
  }
};

std::string Endpoint(const tcp::endpoint& e) { return StrCat(e.address().to_string(), ":", e.port()); }

class HttpSession : public Closable, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket s, std::shared_ptr<AppInfo> info) : sock_(std::move(s)), info_(std::move(info)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }
  void Read() {
    req_ = {};
    http::async_read(sock_, buf_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      self->Respond();
    });
  }

 private:
  void Respond() {
    beast::error_code ec;
    tcp::endpoint peer = sock_.remote_endpoint(ec);
    tcp::endpoint local = sock_.local_endpoint(ec);
    const plan::StartApp& a = info_->app;
    std::string target(req_.target());
    std::string body = StrCat("pod: ", a.pod, "\nnode: ", info_->node, "\npod_ip: ", a.ip.ToString(),
                              "\nclient: ", Endpoint(peer), "\nserver: ", Endpoint(local),
                              "\nrequest: ", std::string(req_.method_string()), " ", target, "\n");
    res_ = {};
    res_.version(req_.version());
    res_.result(http::status::ok);
    res_.set(http::field::server, "minikube-net http-echo");
    res_.set(http::field::content_type, "text/plain");
    res_.set("X-Pod", a.pod);
    res_.keep_alive(req_.keep_alive());
    res_.body() = std::move(body);
    res_.prepare_payload();
    info_->log->Line(StrCat(std::string(req_.method_string()), " ", target, " from ", Endpoint(peer), " 200"));
    http::async_write(sock_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (!self->res_.keep_alive()) {
        self->sock_.shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      self->Read();
    });
  }

  tcp::socket sock_;
  std::shared_ptr<AppInfo> info_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

class TcpEchoSession : public Closable, public std::enable_shared_from_this<TcpEchoSession> {
 public:
  explicit TcpEchoSession(tcp::socket s) : sock_(std::move(s)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }
  void Read() {
    sock_.async_read_some(asio::buffer(data_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return;
      asio::async_write(self->sock_, asio::buffer(self->data_, n),
                        [self](beast::error_code ec, size_t) {
                          if (!ec) self->Read();
                        });
    });
  }

 private:
  tcp::socket sock_;
  std::array<char, 16384> data_;
};

class Acceptor : public Closable, public std::enable_shared_from_this<Acceptor> {
 public:
  Acceptor(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info)
      : acc_(io, tcp::v4(), fd), info_(std::move(info)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        if (self->info_->app.app == config::AppKind::kHttpEcho) {
          auto session = std::make_shared<HttpSession>(std::move(s), self->info_);
          self->info_->Track(session);
          session->Read();
        } else {
          beast::error_code e2;
          self->info_->log->Line(StrCat("tcp-echo connection from ", Endpoint(s.remote_endpoint(e2))));
          auto session = std::make_shared<TcpEchoSession>(std::move(s));
          self->info_->Track(session);
          session->Read();
        }
      }
      if (self->acc_.is_open()) self->Accept();  // closed: the pod was killed or the server stops
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
  tcp::acceptor acc_;
  std::shared_ptr<AppInfo> info_;
};

class UdpEcho : public Closable, public std::enable_shared_from_this<UdpEcho> {
 public:
  UdpEcho(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info)
      : sock_(io, udp::v4(), fd), info_(std::move(info)) {}
  void Receive() {
    // A closed socket (the pod was killed) must not be re-armed: it would fail at once, forever.
    sock_.async_receive_from(asio::buffer(data_), peer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
      if (ec) return self->Receive();  // e.g. an ICMP error of an earlier send: the socket is fine
      self->sock_.async_send_to(asio::buffer(self->data_, n), self->peer_, [self](beast::error_code, size_t) {
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
  std::shared_ptr<AppInfo> info_;
  std::array<char, 65536> data_;
};

}  // namespace

struct AppServer::Impl {
  std::string log_dir;
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>();
  // Listeners by pod: an Acceptor (and through it the connections) or a UdpEcho.
  std::multimap<std::string, std::shared_ptr<Closable>> listeners;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  bool stopped = false;
};

AppServer::AppServer(std::string log_dir) : impl_(std::make_unique<Impl>()) { impl_->log_dir = std::move(log_dir); }

AppServer::~AppServer() { Stop(); }

absl::Status AppServer::Serve(AppSocket s, const std::string& node) {
  auto info = std::make_shared<AppInfo>();
  info->app = s.app;
  info->node = node;
  info->log = std::make_shared<AppLog>(StrCat(impl_->log_dir, "/", s.app.pod), StrCat(s.app.container, ".log"));
  int fd = s.fd.Release();
  return OnIo([&]() -> absl::Status {
    try {
      std::shared_ptr<Closable> l;
      if (info->app.app == config::AppKind::kUdpEcho) {
        auto u = std::make_shared<UdpEcho>(*impl_->io, fd, info);
        u->Receive();
        l = std::move(u);
      } else {
        auto a = std::make_shared<Acceptor>(*impl_->io, fd, info);
        a->Accept();
        l = std::move(a);
      }
      impl_->listeners.emplace(info->app.pod, std::move(l));
    } catch (const boost::system::system_error& e) {
      ::close(fd);
      return absl::InternalError(StrCat("serve ", config::ToString(info->app.app), " in pod ", info->app.pod, ": ", e.what()));
    }
    return absl::OkStatus();
  });
}

absl::Status AppServer::StopPod(const std::string& pod) {
  return OnIo([&]() -> absl::Status {
    auto [from, to] = impl_->listeners.equal_range(pod);
    for (auto it = from; it != to; ++it) it->second->Close();
    impl_->listeners.erase(from, to);
    return absl::OkStatus();
  });
}

absl::Status AppServer::OnIo(const std::function<absl::Status()>& fn) {
  if (impl_->threads.empty()) return fn();  // not started: nothing else touches the io objects
  if (impl_->stopped) return absl::FailedPreconditionError("app server stopped");
  std::promise<absl::Status> done;
  asio::post(*impl_->io, [&] { done.set_value(fn()); });
  return done.get_future().get();
}

void AppServer::Start(int threads) {
  impl_->guard.emplace(impl_->io->get_executor());
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->io->run(); });
}

void AppServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(*impl_->io, [this] {
    for (auto& [pod, l] : impl_->listeners) l->Close();
  });
  impl_->guard.reset();
  impl_->io->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->listeners.clear();
  // Destroying the io_context destroys every pending handler and with it every open connection: no socket
  // may outlive Stop(), since a socket pins its pod's netns.
  impl_->io.reset();
}

}  // namespace mkn::vnet
