// The edge server under load it must survive (vnet/edge/ingress): a listener's connection cap
// (the connection past it refused and counted, served again once one closes), a process out of file
// descriptors (accept(2) failing: the edge backs off instead of spinning a core, and answers again
// once fds are free), and its own failures made visible: an exception out of a coroutine is
// counted and logged, and the accept loop comes back; an access log that cannot be opened fails
// Start. Fixtures: ingress_test_util.h.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

// Waits (up to the deadline) for `done`, checking every millisecond.
bool WaitFor(const std::function<bool()>& done) {
  const auto until = Clock::now() + kDeadline;
  while (!done()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// A fresh directory under /tmp, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mkn-edge-test.XXXXXX";
    path_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
    EXPECT_FALSE(path_.empty()) << strerror(errno);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAllOf(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int CountLines(const std::string& text, const std::string& part) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += absl::StrContains(line, part);
  return n;
}

constexpr char kGet[] = "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n";

TEST_F(IngressServerTest, ConnectionsOverTheCapAreRefusedAndCounted) {
  Start(Answering("ok"), TestLimits(),
        [](config::ClusterSpec& spec, IngressOptions&) { spec.listeners[0].max_connections = 2; });
  auto stats = [&] { return server_->ListenerStats().at(0); };
  Conn a = Client(), b = Client();
  EXPECT_EQ(Roundtrip(a, kGet).status(), 200);
  EXPECT_EQ(Roundtrip(b, kGet).status(), 200);  // two kept-alive connections: the cap
  EXPECT_EQ(stats().connections, 2u);

  Conn over = Client();  // the kernel completes the handshake; the edge takes it and resets it
  over.Send(kGet);       // (may fail: the reset may come first)
  EXPECT_TRUE(over.DrainToClose()) << "the connection over the cap must be closed at once";
  EXPECT_EQ(over.buf(), "") << "nothing is served over the cap";
  EXPECT_EQ(stats().refused, 1u);
  EXPECT_EQ(stats().accepted, 2u);
  EXPECT_EQ(stats().max_connections, 2);

  a.raw().Reset();  // one leaves: there is room again
  ASSERT_TRUE(WaitFor([&] { return stats().connections == 1; })) << stats().connections;
  Conn c = Client();
  EXPECT_EQ(Roundtrip(c, kGet).status(), 200);
  EXPECT_EQ(stats().accepted, 3u);
  EXPECT_EQ(stats().refused, 1u);
  EXPECT_EQ(Roundtrip(b, kGet).status(), 200) << "connections within the cap are untouched";
}

// --- out of file descriptors, in a child process (RLIMIT_NOFILE and a full fd table are the
// process's: the test's own sockets must not starve with it) ---

// The CPU time (user + system) process `pid` has used so far.
milliseconds CpuTime(pid_t pid) {
  std::string stat = ReadAllOf(absl::StrCat("/proc/", pid, "/stat"));
  std::istringstream in(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::vector<std::string> f{std::istream_iterator<std::string>(in), {}};
  if (f.size() < 13) return milliseconds(-1);
  const long ticks = std::stol(f[11]) + std::stol(f[12]);  // utime, stime (fields 14, 15)
  return milliseconds(ticks * 1000 / ::sysconf(_SC_CLK_TCK));
}

// One byte from `fd` within the deadline; 0 when none came.
char ReadByte(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c = 0;
  if (::poll(&p, 1, static_cast<int>(kDeadline.count())) != 1 || ::read(fd, &c, 1) != 1) return 0;
  return c;
}

// The child: an edge in front of `backend_port`, its fd table then filled up. Tells the parent its
// port ("P<port>\n") and 'F' (full); on 'f' frees 64 fds; on 'q' stops and reports its counters
// ("accept_errors=N accepted=N\n"). Returns the exit status.
int StarvedEdge(int backend_port, int cmd, int report, const std::string& log) {
  auto say = [&](const std::string& s) {
    return ::write(report, s.data(), s.size()) == ssize_t(s.size());
  };
  std::optional<config::ClusterSpec> spec = TestSpec(backend_port, backend_port);
  if (!spec) return 10;
  IngressOptions o;
  o.limits = TestLimits();
  o.threads = 1;
  o.access_log = log;
  absl::StatusOr<std::unique_ptr<IngressServer>> s =
      IngressServer::Start(*spec, {{spec->nodes[0].netns, IngressServer::kCallerNetns}}, o);
  if (!s.ok()) return 11;
  if (!say(absl::StrCat("P", ListeningPort(**s), "\n"))) return 12;
  rlimit rl{1024, 1024};  // a table of 1024 fills quickly
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return 13;
  std::vector<int> fillers;
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  if (errno != EMFILE || !say("F")) return 14;
  if (ReadByte(cmd) != 'f') return 15;
  for (int i = 0; i < 64 && !fillers.empty(); ++i) {
    ::close(fillers.back());
    fillers.pop_back();
  }
  if (ReadByte(cmd) != 'q') return 16;
  const IngressListenerStats st = (*s)->ListenerStats().at(0);
  (*s)->Stop();
  if (!say(absl::StrCat("accept_errors=", st.accept_errors, " accepted=", st.accepted, "\n")))
    return 17;
  return 0;
}

TEST(IngressOverload, OutOfFdsBacksOffInsteadOfSpinningAndAnswersOnceFdsAreFree) {
  Backend backend(Answering("ok"));
  TempDir dir;
  const std::string log = dir.path() + "/access.log";
  int cmd[2], report[2];
  ASSERT_EQ(::pipe2(cmd, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    ::close(cmd[1]);
    ::close(report[0]);
    ::_exit(StarvedEdge(backend.port(), cmd[0], report[1], log));
  }
  ::close(cmd[0]);
  ::close(report[1]);
  Fd to_child(cmd[1]), from_child(report[0]);
  // Whatever happens below, the child does not outlive the test.
  struct Reap {
    pid_t pid;
    int status = -1;
    ~Reap() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } child{pid};

  std::string hello;
  for (char c; (c = ReadByte(from_child.get())) != 0 && c != '\n';) hello += c;
  int port = 0;
  ASSERT_TRUE(hello.size() > 1 && absl::SimpleAtoi(hello.substr(1), &port)) << hello;
  ASSERT_EQ(ReadByte(from_child.get()), 'F') << "the child could not fill its fd table";

  // A client now waits in the listener's backlog: accept(2) fails with EMFILE as long as the table
  // is full. For one second the edge must not spin on it (before the fix: a core at 100 %).
  Conn c = Conn::Connect(port);
  ASSERT_TRUE(c.Send(kGet));
  const milliseconds cpu0 = CpuTime(pid);
  EXPECT_FALSE(c.ReadSome(milliseconds(1000))) << "answered with a full fd table?";
  const milliseconds used = CpuTime(pid) - cpu0;
  EXPECT_LT(used.count(), 250) << "the edge used " << used.count()
                               << " ms of CPU in 1 s while accept(2) failed: it spins";

  // Fds free again: the waiting client is served within the longest pause (1 s).
  ASSERT_EQ(::write(to_child.get(), "f", 1), 1);
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res) << "not answered after fds were freed";
  EXPECT_EQ(res->status(), 200);

  ASSERT_EQ(::write(to_child.get(), "q", 1), 1);
  std::string counters;
  for (char ch; (ch = ReadByte(from_child.get())) != 0 && ch != '\n';) counters += ch;
  ASSERT_EQ(::waitpid(pid, &child.status, 0), pid);
  child.pid = 0;
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
      << "the child failed at step " << WEXITSTATUS(child.status);
  uint64_t errors = 0;
  ASSERT_TRUE(absl::StartsWith(counters, "accept_errors=")) << counters;
  ASSERT_TRUE(absl::SimpleAtoi(counters.substr(14, counters.find(' ') - 14), &errors)) << counters;
  // 10 ms doubling to 1 s: about 8 tries in the 1.3 s or so the table was full; a spin makes
  // hundreds of thousands.
  EXPECT_GE(errors, 2u) << counters;
  EXPECT_LE(errors, 20u) << counters;
  EXPECT_TRUE(absl::StrContains(counters, "accepted=1")) << counters;
  // Logged, at most a line a second, the later ones saying how many were left out.
  const std::string text = ReadAllOf(log);
  const int lines = CountLines(text, "edge: accept on 127.0.0.1:");
  EXPECT_GE(lines, 1) << text;
  EXPECT_LE(lines, 3) << text;
  EXPECT_TRUE(absl::StrContains(text, "Too many open files")) << text;
}

// --- the server's own failures ---

TEST_F(IngressServerTest, ExceptionsOfCoroutinesAreCountedLoggedAndTheAcceptLoopComesBack) {
  TempDir dir;
  const std::string log = dir.path() + "/access.log";
  auto connections = std::make_shared<std::atomic<int>>(0);
  auto accepts = std::make_shared<std::atomic<int>>(0);
  Start(Answering("ok"), TestLimits(), [&](config::ClusterSpec&, IngressOptions& o) {
    o.access_log = log;
    o.fault_injection = [=](std::string_view where) {
      if (where == "connection" && connections->fetch_add(1) == 0)
        throw std::runtime_error("injected in a connection");
      if (where == "accept" && accepts->fetch_add(1) == 1)
        throw std::runtime_error("injected in the accept loop");
    };
  });
  {
    Conn first = Client();  // its coroutine throws as it starts: that connection closes
    first.Send(kGet);
    EXPECT_TRUE(first.DrainToClose());
    EXPECT_EQ(first.buf(), "");
  }
  EXPECT_TRUE(WaitFor([&] { return server_->Exceptions() == 1; })) << server_->Exceptions();
  {
    Conn second = Client();  // the accept loop throws after taking it: it closes
    EXPECT_TRUE(second.DrainToClose());
  }
  EXPECT_TRUE(WaitFor([&] { return server_->Exceptions() == 2; })) << server_->Exceptions();
  // The accept loop is started again (after a second): the listener is not deaf.
  Conn third = Client();
  EXPECT_EQ(Roundtrip(third, kGet).status(), 200);
  server_->Stop();  // flushes and closes the log
  const std::string text = ReadAllOf(log);
  EXPECT_EQ(CountLines(text, "edge: a connection ended by an exception: injected in a connection"),
            1)
      << text;
  EXPECT_EQ(CountLines(text, absl::StrCat("edge: the accept loop of 127.0.0.1:", port_,
                                          " ended by an exception: injected in the accept loop")),
            1)
      << text;
}

TEST_F(IngressServerTest, AnAccessLogThatCannotBeOpenedFailsStart) {
  TempDir dir;
  auto backend = std::make_unique<Backend>(Answering("ok"));
  std::optional<config::ClusterSpec> spec = TestSpec(backend->port(), backend->port());
  ASSERT_TRUE(spec);
  const std::map<std::string, int> netns = {{spec->nodes[0].netns, IngressServer::kCallerNetns}};
  IngressOptions o;
  o.limits = TestLimits();
  o.access_log = dir.path() + "/missing/access.log";  // its directory does not exist
  absl::StatusOr<std::unique_ptr<IngressServer>> s = IngressServer::Start(*spec, netns, o);
  ASSERT_FALSE(s.ok()) << "a log that cannot be opened must not be ignored";
  EXPECT_TRUE(absl::IsNotFound(s.status())) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), o.access_log)) << s.status();

  // One that opens is not readable by others (its lines carry query strings).
  o.access_log = dir.path() + "/access.log";
  s = IngressServer::Start(*spec, netns, o);
  ASSERT_TRUE(s.ok()) << s.status();
  struct stat st {};
  ASSERT_EQ(::stat(o.access_log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << std::oct << st.st_mode;
}

// `minikube-net trace`'s marker: a well-formed X-Mkn-Trace (1 to 32 hex digits) is named in the
// request's access-log line, an answer of the edge's own too; anything else is left out, so a
// client cannot write into the log.
TEST_F(IngressServerTest, TheAccessLogNamesTracesMarker) {
  TempDir dir;
  const std::string log = dir.path() + "/access.log";
  Start(Answering("ok"), TestLimits(),
        [&](config::ClusterSpec&, IngressOptions& o) { o.access_log = log; });
  Conn c = Client();
  EXPECT_EQ(
      Roundtrip(c, "GET /a HTTP/1.1\r\nHost: app.test\r\nX-Mkn-Trace: 0123abcdef\r\n\r\n").status(),
      200);
  EXPECT_EQ(
      Roundtrip(c, "GET /b HTTP/1.1\r\nHost: nowhere.test\r\nX-Mkn-Trace: 42\r\n\r\n").status(),
      404);
  EXPECT_EQ(
      Roundtrip(c, "GET /c HTTP/1.1\r\nHost: app.test\r\nX-Mkn-Trace: 12 x=1\r\n\r\n").status(),
      200);
  server_->Stop();  // flushes and closes the log
  const std::string text = ReadAllOf(log);
  EXPECT_EQ(CountLines(text, "\"GET /a\" 200 route="), 1) << text;
  EXPECT_EQ(CountLines(text, " trace=0123abcdef"), 1) << text;
  EXPECT_EQ(CountLines(text, "\"GET /b\" 404 route=- backend=- upstream_ms=-1"), 1) << text;
  EXPECT_EQ(CountLines(text, " trace=42"), 1) << text;
  EXPECT_EQ(CountLines(text, "trace=12"), 0) << text;
  EXPECT_EQ(CountLines(text, "x=1"), 0) << text;
}

}  // namespace
}  // namespace mkn::vnet::ingress_test
