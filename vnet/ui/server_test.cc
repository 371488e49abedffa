// The dashboard's server over loopback port-0 sockets with fake sources: the page and its files,
// routing, the snapshot, Host and Origin, the edge's limits (big, slow, ambiguous, too many), the
// event stream (framing, only changes, a cap, slow clients dropped) and traces one at a time.
#include "vnet/ui/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/strings/str_cat.h"
#include "vnet/ui/assets.h"

namespace mkn::vnet {
namespace {

using namespace std::chrono_literals;

// Waits for `cond` with a deadline (polling: the server's threads are not ours to join).
template <class F>
bool WaitFor(F cond, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

int Connect(int port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

void SendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Everything until the server closes (or 5 s pass).
std::string ReadToEnd(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads until `marker` has come `times` times (or the stream ends).
std::string ReadUntil(int fd, std::string_view marker, int times = 1) {
  std::string out;
  char buf[65536];
  auto count = [&] {
    int c = 0;
    for (size_t i = out.find(marker); i != std::string::npos; i = out.find(marker, i + 1)) ++c;
    return c;
  };
  while (count() < times) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string Exchange(int port, std::string_view raw) {
  const int fd = Connect(port);
  SendAll(fd, raw);
  std::string out = ReadToEnd(fd);
  ::close(fd);
  return out;
}

std::string Get(int port, std::string_view path, std::string_view extra = "") {
  return Exchange(port, StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                               "\r\nConnection: close\r\n", extra, "\r\n"));
}

std::string Post(int port, std::string_view path, std::string_view body,
                 std::string_view extra = "") {
  return Exchange(port, StrCat("POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                               "\r\nConnection: close\r\nContent-Type: "
                               "application/x-www-form-urlencoded\r\nContent-Length: ",
                               body.size(), "\r\n", extra, "\r\n", body));
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// Fake sources: a Service whose packet counter the test sets, and a trace that waits for the test.
struct Fake {
  std::atomic<int> packets{0};
  std::atomic<int> gathers{0};
  std::atomic<size_t> svg_size{10};
  std::atomic<bool> svg_changes{false};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> traces{0};
  std::string gather_error;  // set before Start: one of the inputs' errors

  UiSources Sources() {
    UiSources s;
    s.gather = [this] {
      ++gathers;
      ui::Inputs in;
      in.cluster = "fake";
      in.graph.vertices.push_back(
          {"node/node1", graph::VertexKind::kNode, {"node1"}, "node/node1"});
      in.graph.vertices.push_back({"pod/web-0", graph::VertexKind::kPod, {"web-0"}, "node/node1"});
      in.graph.vertices.push_back({"bridge/node1", graph::VertexKind::kBridge, {"cbr0"}, ""});
      in.graph.edges.push_back({"pod/web-0", "bridge/node1", graph::EdgeKind::kLink, "", "", ""});
      in.svg = std::string(svg_size.load(), 's');
      if (svg_changes) in.svg += std::to_string(gathers.load());
      control::ServicesAnswer a;
      a.proxy_mode = "userspace";
      control::ServiceInfo svc;
      svc.name = "web";
      svc.type = "ClusterIP";
      svc.cluster_ip = "10.96.0.10";
      control::ServicePortInfo p;
      p.port = 80;
      p.protocol = "TCP";
      p.target_port = 8080;
      p.counters = control::PortCounters{};
      p.counters->packets = static_cast<uint64_t>(packets.load());
      svc.ports.push_back(p);
      a.services.push_back(svc);
      in.services = a;
      if (!gather_error.empty()) in.errors.push_back(gather_error);
      return in;
    };
    s.trace = [this](const ui::TraceForm& f) -> absl::StatusOr<nlohmann::json> {
      ++traces;
      if (f.src == "nope") return absl::InvalidArgumentError("trace: unknown pod \"nope\"");
      // An error quoting bytes that are not UTF-8 (a source's message can say anything).
      if (f.src == "bytes") return absl::InvalidArgumentError("trace: unknown pod \"\xff\xfe\"");
      if (f.src == "wait") released.wait();
      return nlohmann::json{{"src", f.src},
                            {"dst", f.dst},
                            {"ok", true},
                            {"summary", "reached"},
                            {"hops",
                             {{{"object", "web-0"}, {"interface", "eth0"}, {"seen", true}},
                              {{"object", "node1"}, {"interface", "cbr0"}, {"seen", true}}}}};
    };
    return s;
  }
};

std::unique_ptr<UiServer> StartWith(Fake& f, UiLimits limits = {}) {
  UiOptions o;
  o.port = 0;
  o.sources = f.Sources();
  limits.interval = 50ms;
  o.limits = limits;
  absl::StatusOr<std::unique_ptr<UiServer>> s = UiServer::Start(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(UiServer, ListensOnLoopbackOnly) {
  Fake f;
  for (const char* addr : {"0.0.0.0", "::", "192.0.2.1", "example.com", ""}) {
    UiOptions o;
    o.address = addr;
    o.port = 0;
    o.sources = f.Sources();
    absl::StatusOr<std::unique_ptr<UiServer>> s = UiServer::Start(std::move(o));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << addr;
  }
  UiOptions o;
  o.port = 0;
  o.sources = f.Sources();
  absl::StatusOr<std::unique_ptr<UiServer>> s = UiServer::Start(std::move(o));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->Url(), StrCat("http://127.0.0.1:", (*s)->port(), "/"));
  // The port taken: a second server on it fails with the kernel's code, not a crash.
  UiOptions again;
  again.port = (*s)->port();
  again.sources = f.Sources();
  EXPECT_EQ(UiServer::Start(std::move(again)).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(UiServer, ServesThePageAndItsFilesFromTheBinary) {
  Fake f;
  auto s = StartWith(f);
  const int port = s->port();
  const std::string page = Get(port, "/");
  EXPECT_EQ(StatusOf(page), 200) << page;
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_EQ(BodyOf(page), FindUiAsset("index.html")->body);
  // No asset loads anything from another server.
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const UiAsset* a = FindUiAsset(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_EQ(a->body.find("http://"), std::string::npos) << name;
    EXPECT_EQ(a->body.find("https://"), std::string::npos) << name;
    EXPECT_EQ(StatusOf(Get(port, StrCat("/", name))), 200) << name;
  }
  EXPECT_NE(Get(port, "/app.js").find("Content-Type: text/javascript"), std::string::npos);
  const std::string head = Exchange(
      port, StrCat("HEAD / HTTP/1.1\r\nHost: 127.0.0.1:", port, "\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_EQ(BodyOf(head), "");
  EXPECT_EQ(StatusOf(Get(port, "/nope")), 404);
  EXPECT_EQ(StatusOf(Get(port, "/api/trace")), 405);
  EXPECT_NE(Get(port, "/api/trace").find("Allow: POST"), std::string::npos);
  EXPECT_EQ(StatusOf(Post(port, "/", "x")), 405);
  // The edge's path normalization: /x/../app.js is /app.js.
  EXPECT_EQ(StatusOf(Get(port, "/x/../app.js")), 200);
}

TEST(UiServer, StateIsTheSnapshotOfTheSources) {
  Fake f;
  f.packets = 42;
  auto s = StartWith(f);
  const std::string r = Get(s->port(), "/api/state");
  ASSERT_EQ(StatusOf(r), 200) << r;
  const nlohmann::json j = nlohmann::json::parse(BodyOf(r));
  EXPECT_EQ(j["cluster"], "fake");
  EXPECT_EQ(j["services"]["services"][0]["ports"][0]["counters"]["packets"], 42);
  EXPECT_EQ(j["traces"].size(), 0u);
}

// A snapshot is never older than the request when nobody was looking: the page's numbers agree with
// a `get svc` run just before.
TEST(UiServer, StateAfterAChangeShowsIt) {
  Fake f;
  UiLimits l;
  l.interval = 50ms;
  auto s = StartWith(f, l);
  f.packets = 1;
  // Nobody looks yet: this one is gathered after the request came.
  nlohmann::json j = nlohmann::json::parse(BodyOf(Get(s->port(), "/api/state")));
  EXPECT_EQ(j["services"]["services"][0]["ports"][0]["counters"]["packets"], 1);
  f.packets = 2;
  j = nlohmann::json::parse(BodyOf(Get(s->port(), "/api/state")));
  // Now someone looks: at most two intervals old, so the change shows within them.
  if (j["services"]["services"][0]["ports"][0]["counters"]["packets"] != 2) {
    EXPECT_TRUE(WaitFor([&] {
      j = nlohmann::json::parse(BodyOf(Get(s->port(), "/api/state")));
      return j["services"]["services"][0]["ports"][0]["counters"]["packets"] == 2;
    }));
  }
}

TEST(UiServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Fake f;
  auto s = StartWith(f);
  const int fd = Connect(s->port());
  const std::string req =
      StrCat("GET /style.css HTTP/1.1\r\nHost: localhost:", s->port(), "\r\n\r\n");
  SendAll(fd, StrCat(req, req, "GET / HTTP/1.1\r\nHost: localhost:", s->port(),
                     "\r\nConnection: close\r\n\r\n"));
  const std::string out = ReadToEnd(fd);
  ::close(fd);
  int n = 0;
  for (size_t i = out.find("HTTP/1.1 200"); i != std::string::npos;
       i = out.find("HTTP/1.1 200", i + 1))
    ++n;
  EXPECT_EQ(n, 3) << out.substr(0, 300);
}

TEST(UiServer, OtherHostsAndOriginsAreRefused) {
  Fake f;
  auto s = StartWith(f);
  const int port = s->port();
  // DNS rebinding: a name that resolves to 127.0.0.1 but is not ours.
  EXPECT_EQ(StatusOf(Exchange(port, StrCat("GET /api/state HTTP/1.1\r\nHost: evil.example:", port,
                                           "\r\nConnection: close\r\n\r\n"))),
            421);
  EXPECT_EQ(StatusOf(Post(port, "/api/trace", "src=a&dst=b", "Origin: http://evil.example\r\n")),
            403);
  EXPECT_EQ(f.traces.load(), 0);
  EXPECT_EQ(StatusOf(Post(port, "/api/trace", "src=a&dst=b",
                          StrCat("Origin: http://127.0.0.1:", port, "\r\n"))),
            200);
}

TEST(UiServer, BigSlowAmbiguousAndTooManyRequestsAreBounded) {
  Fake f;
  UiLimits l;
  l.request_timeout = 300ms;
  l.max_connections = 3;
  auto s = StartWith(f, l);
  const int port = s->port();
  // A head over the limit, a body over the limit.
  EXPECT_EQ(StatusOf(Get(port, "/", StrCat("X-Big: ", std::string(9000, 'a'), "\r\n"))), 431);
  EXPECT_EQ(StatusOf(Post(port, "/api/trace", std::string(5000, 'a'))), 413);
  // Ambiguous framing and hosts, refused as the edge refuses them.
  EXPECT_EQ(StatusOf(Exchange(port, StrCat("GET / HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                           "\r\nHost: "
                                           "127.0.0.1:",
                                           port, "\r\n\r\n"))),
            400);
  EXPECT_EQ(StatusOf(Exchange(port, StrCat("POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                           "\r\nTransfer-Encoding: gzip\r\n\r\n"))),
            400);
  EXPECT_EQ(
      StatusOf(Exchange(port, StrCat("POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                     "\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"))),
      400);
  // Beast 1.74 refuses a version other than 1.0 and 1.1 itself.
  EXPECT_EQ(StatusOf(Exchange(port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(port, "garbage\r\n\r\n")), 400);
  // Slowloris: half a head, then nothing: dropped at the deadline without an answer.
  const auto t0 = std::chrono::steady_clock::now();
  const int slow = Connect(port);
  SendAll(slow, "GET / HTTP/1.1\r\nHost: 127.0.0.1");
  EXPECT_EQ(ReadToEnd(slow), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ::close(slow);
  EXPECT_TRUE(WaitFor([&] { return s->Stats().timeouts >= 1; }));
  // Too many connections: the ones past the cap are closed at once; the others are served.
  const uint64_t before = s->Stats().accepted;
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(port));
  ASSERT_TRUE(WaitFor([&] { return s->Stats().accepted >= before + 3; }));
  const int extra = Connect(port);
  EXPECT_EQ(ReadToEnd(extra), "");
  ::close(extra);
  EXPECT_GE(s->Stats().refused, 1u);
  for (int fd : idle) ::close(fd);
  EXPECT_TRUE(WaitFor([&] { return StatusOf(Get(port, "/style.css")) == 200; }));
}

TEST(UiServer, EventsPushChangesOnly) {
  Fake f;
  UiLimits l;
  l.max_event_clients = 2;
  l.heartbeat = 60s;
  auto s = StartWith(f, l);
  const int port = s->port();
  const int fd = Connect(port);
  SendAll(fd, StrCat("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:", port, "\r\n\r\n"));
  // The head, the retry line, then the first event whole.
  const std::string got = ReadUntil(fd, "\n\n", 2);
  ASSERT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  ASSERT_NE(got.find("event: state\ndata: {"), std::string::npos) << got;
  // Nothing changes for many gathers: no event is sent.
  const int g0 = f.gathers.load();
  ASSERT_TRUE(WaitFor([&] { return f.gathers.load() >= g0 + 5; }));
  EXPECT_EQ(s->Stats().events_sent, 1u);
  // A counter changes: the next event carries it.
  f.packets = 7;
  std::string next;
  ASSERT_TRUE(WaitFor([&] {
    next += ReadUntil(fd, "\n\n");
    return next.find("\"packets\":7") != std::string::npos;
  }));
  const size_t data = next.find("data: ");
  ASSERT_NE(data, std::string::npos);
  const size_t end = next.find('\n', data);
  const nlohmann::json j = nlohmann::json::parse(next.substr(data + 6, end - data - 6));
  EXPECT_EQ(j["services"]["services"][0]["ports"][0]["counters"]["packets"], 7);
  // The cap: a third stream is refused with 503 while two are open.
  const int second = Connect(port);
  SendAll(second, StrCat("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:", port, "\r\n\r\n"));
  ReadUntil(second, "event: state");
  const std::string third = Get(port, "/api/events");
  EXPECT_EQ(StatusOf(third), 503) << third;
  EXPECT_NE(third.find("Retry-After"), std::string::npos);
  ::close(second);
  ::close(fd);
}

TEST(UiServer, SlowEventClientsAreDroppedNotBuffered) {
  Fake f;
  f.svg_size = 512 * 1024;  // half a MiB per event
  f.svg_changes = true;     // a new snapshot at every gather
  UiLimits l;
  l.write_timeout = 300ms;
  auto s = StartWith(f, l);
  const int fd = Connect(s->port(), 4096);
  SendAll(fd, StrCat("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:", s->port(), "\r\n\r\n"));
  // It never reads: the kernel's buffers fill, a write passes its deadline, the client goes.
  EXPECT_TRUE(WaitFor([&] { return s->Stats().events_dropped >= 1; }, 10000ms));
  ::close(fd);
  // Others are still served.
  EXPECT_EQ(StatusOf(Get(s->port(), "/style.css")), 200);
}

TEST(UiServer, TracesRunOneAtATimeAndJoinTheSnapshot) {
  Fake f;
  auto s = StartWith(f);
  const int port = s->port();
  std::future<std::string> first = std::async(
      std::launch::async, [&] { return Post(port, "/api/trace", "src=wait&dst=web-0"); });
  ASSERT_TRUE(WaitFor([&] { return f.traces.load() == 1; }));
  const std::string busy = Post(port, "/api/trace", "src=a&dst=b");
  EXPECT_EQ(StatusOf(busy), 429) << busy;
  const nlohmann::json busy_json = nlohmann::json::parse(BodyOf(busy));
  EXPECT_EQ(busy_json["src"], "a");
  EXPECT_TRUE(busy_json["id"].is_null());
  f.release.set_value();
  const std::string done = first.get();
  ASSERT_EQ(StatusOf(done), 200) << done;
  const nlohmann::json t = nlohmann::json::parse(BodyOf(done));
  EXPECT_EQ(t["result"]["summary"], "reached");
  EXPECT_EQ(t["highlight"]["vertices"], nlohmann::json({"pod/web-0", "bridge/node1"}));
  EXPECT_EQ(t["highlight"]["edges"].size(), 1u);
  // A trace the sources refuse: its code, and it is listed too.
  const std::string bad = Post(port, "/api/trace", "src=nope&dst=b");
  EXPECT_EQ(StatusOf(bad), 400) << bad;
  // Not a whole form: 400 too, as JSON of the same shape (it was plain text), naming every kind
  // of DST trace takes (it named pods, pod IPs and Services only).
  const std::string half = Post(port, "/api/trace", "src=a");
  EXPECT_EQ(StatusOf(half), 400) << half;
  const nlohmann::json half_json = nlohmann::json::parse(BodyOf(half));
  const nlohmann::json bad_json = nlohmann::json::parse(BodyOf(bad));
  std::vector<std::string> half_keys, bad_keys;
  for (const auto& [k, v] : half_json.items()) half_keys.push_back(k);
  for (const auto& [k, v] : bad_json.items()) bad_keys.push_back(k);
  EXPECT_EQ(half_keys, bad_keys) << half_json << " vs " << bad_json;
  EXPECT_TRUE(half_json["id"].is_null());
  EXPECT_EQ(bad_json["src"], "nope");
  const std::string why = half_json["error"];
  EXPECT_NE(why.find("a node"), std::string::npos) << why;
  EXPECT_NE(why.find("NODE:PORT"), std::string::npos) << why;
  nlohmann::json j;
  ASSERT_TRUE(WaitFor([&] {
    j = nlohmann::json::parse(BodyOf(Get(port, "/api/state")));
    return j["traces"].size() == 2;
  }));
  EXPECT_EQ(j["traces"][0]["error"], "trace: unknown pod \"nope\"");
  EXPECT_EQ(j["traces"][1]["src"], "wait");
}

// A client that sends `Expect: 100-continue` holds its body back until the interim 100 (curl does
// for a body over 1 MiB): the dashboard answers 100 after the head, then the request as usual.
TEST(UiServer, ExpectContinueGetsTheInterim100BeforeTheBody) {
  Fake f;
  f.release.set_value();
  auto s = StartWith(f);
  const int port = s->port();
  const std::string body = "src=a&dst=web-0";
  const int fd = Connect(port);
  SendAll(fd, StrCat("POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1:", port,
                     "\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded"
                     "\r\nExpect: 100-continue\r\nContent-Length: ",
                     body.size(), "\r\n\r\n"));
  const std::string interim = ReadUntil(fd, "\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  SendAll(fd, body);
  const std::string final_answer = ReadToEnd(fd);
  ::close(fd);
  EXPECT_EQ(StatusOf(final_answer), 200) << final_answer;
  // A body over the limit is refused at its head: no 100, the final 413.
  UiLimits small;
  small.body_limit = 8;
  auto t = StartWith(f, small);
  const std::string refused =
      Exchange(t->port(), StrCat("POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1:", t->port(),
                                 "\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"));
  EXPECT_EQ(StatusOf(refused), 413) << refused;
}

// A POST naming bytes that are not UTF-8 ended the whole process (the cluster's owner under `up
// --ui`): nlohmann's dump() threw on the io thread. The form refuses them; a message from the
// sources that holds such bytes is shown with U+FFFD instead.
TEST(UiServer, BytesThatAreNotUtf8DoNotEndTheServer) {
  Fake f;
  f.gather_error = "state: \xc3\x28 unreadable";
  auto s = StartWith(f);
  const int port = s->port();
  EXPECT_EQ(StatusOf(Post(port, "/api/trace", "src=%ff%fe&dst=%e2%98%83")), 400);
  const std::string bad = Post(port, "/api/trace", "src=bytes&dst=b");
  ASSERT_EQ(StatusOf(bad), 400) << bad;
  const nlohmann::json t = nlohmann::json::parse(BodyOf(bad));
  EXPECT_EQ(t["error"], "trace: unknown pod \"\xef\xbf\xbd\xef\xbf\xbd\"");
  nlohmann::json j;
  ASSERT_TRUE(WaitFor([&] {
    j = nlohmann::json::parse(BodyOf(Get(port, "/api/state")));
    return j["traces"].size() == 1;
  }));
  EXPECT_EQ(j["errors"][0], "state: \xef\xbf\xbd( unreadable");
}

// Two POSTs close together: the second could start its trace between the first's end and the
// first's wake-up, which then found the second's empty result and answered 504 although its trace
// had finished, and cleared the second's wake-up, leaving it to wait for trace_timeout.
TEST(UiServer, EachTraceRequestGetsItsOwnAnswer) {
  Fake f;
  UiLimits limits;
  limits.trace_timeout = 3000ms;
  auto s = StartWith(f, limits);
  const int port = s->port();
  std::mutex mu;
  std::map<int, int> codes;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        const int code = StatusOf(Post(port, "/api/trace", "src=a&dst=b"));
        std::lock_guard<std::mutex> l(mu);
        ++codes[code];
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::string seen;
  for (const auto& [code, n] : codes) seen += StrCat(code, ":", n, " ");
  EXPECT_EQ(codes[504], 0) << seen;
  EXPECT_EQ(codes[200] + codes[429], 320) << seen;
  EXPECT_GT(codes[200], 0) << seen;
}

// HEAD /api/events answered with the stream itself: a body of events after a HEAD's head.
TEST(UiServer, HeadOfTheEventStreamIsItsHeadAlone) {
  Fake f;
  auto s = StartWith(f);
  const std::string r =
      Exchange(s->port(), StrCat("HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1:", s->port(),
                                 "\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("text/event-stream"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "") << r;
}

TEST(UiServer, StopEndsOpenStreams) {
  Fake f;
  auto s = StartWith(f);
  const int fd = Connect(s->port());
  SendAll(fd, StrCat("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:", s->port(), "\r\n\r\n"));
  ReadUntil(fd, "event: state");
  s->Stop();
  ReadToEnd(fd);  // closed, not left hanging
  ::close(fd);
}

}  // namespace
}  // namespace mkn::vnet
