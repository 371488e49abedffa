// vnet/edge/tls: a local CA and certificates made in a temp dir, checked, and served over real TLS
// handshakes on socketpairs (no root, no network).
#include "vnet/edge/tls.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

namespace mkn::vnet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "mkn-tls-test.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

config::TlsCertSpec Spec(std::vector<std::string> hosts,
                         const std::pair<std::string, std::string>& files) {
  config::TlsCertSpec s;
  s.hosts = std::move(hosts);
  s.cert = files.first;
  s.key = files.second;
  return s;
}

// The DNS and IP SANs of a certificate, as "DNS:x" / "IP:1.2.3.4".
std::vector<std::string> Sans(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.push_back("DNS:" +
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      const unsigned char* ip = ASN1_STRING_get0_data(n->d.iPAddress);
      if (ASN1_STRING_length(n->d.iPAddress) == 4) {
        out.push_back("IP:" + std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." +
                      std::to_string(ip[2]) + "." + std::to_string(ip[3]));
      } else {
        out.push_back("IP:v6");
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

X509* LoadCert(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  return x;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LocalCa> ca = CreateOrLoadCa(dir_ / "tls");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
  }
  std::pair<std::string, std::string> Issue(const std::vector<std::string>& hosts,
                                            const std::string& base) {
    absl::StatusOr<std::pair<std::string, std::string>> files =
        IssueCert(ca_, hosts, dir_.path(), base);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : std::pair<std::string, std::string>{};
  }
  TempDir dir_;
  LocalCa ca_;
};

TEST_F(TlsTest, CaIsCreatedOnceAndReloaded) {
  EXPECT_EQ(ca_.cert_path, dir_ / "tls/ca.pem");
  EXPECT_EQ(ca_.key_path, dir_ / "tls/ca.key");
  EXPECT_TRUE(CheckCertKey(ca_.cert_path, ca_.key_path).ok());
  struct stat st;
  ASSERT_EQ(stat(ca_.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(X509_check_ca(ca_.cert.get()), 1);
  // 10 years: not after lies between 9.9 and 10.1 years from now.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(ca_.cert.get())), 1);
  EXPECT_GT(days, 3600);
  EXPECT_LT(days, 3660);

  std::string pem = ReadText(ca_.cert_path);
  absl::StatusOr<LocalCa> again = CreateOrLoadCa(dir_ / "tls");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(X509_cmp(again->cert.get(), ca_.cert.get()), 0);
  EXPECT_EQ(ReadText(ca_.cert_path), pem) << "a second run must reuse the CA, not replace it";
}

TEST_F(TlsTest, CaWithOnlyOneFileIsRefused) {
  ASSERT_EQ(unlink(ca_.key_path.c_str()), 0);
  absl::StatusOr<LocalCa> ca = CreateOrLoadCa(dir_ / "tls");
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr("ca.key does not"));
}

TEST_F(TlsTest, LeafIsNotAcceptedAsCa) {
  auto files = Issue({"a.test"}, "leaf");
  std::filesystem::create_directory(dir_ / "notca");
  std::filesystem::copy_file(files.first, dir_ / "notca/ca.pem");
  std::filesystem::copy_file(files.second, dir_ / "notca/ca.key");
  absl::StatusOr<LocalCa> ca = CreateOrLoadCa(dir_ / "notca");
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr("not a CA certificate"));
}

TEST_F(TlsTest, IssuedCertHasSansEkuAndValidity) {
  auto files = Issue({"app.example.test", "*.apps.example.test", "127.0.0.1", "::1"}, "app");
  EXPECT_EQ(files.first, dir_ / "app.crt");
  EXPECT_EQ(files.second, dir_ / "app.key");
  EXPECT_TRUE(CheckCertKey(files.first, files.second).ok());
  struct stat st;
  ASSERT_EQ(stat(files.second.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  X509* cert = LoadCert(files.first);
  ASSERT_NE(cert, nullptr);
  EXPECT_THAT(Sans(cert), ElementsAre("DNS:app.example.test", "DNS:*.apps.example.test",
                                      "IP:127.0.0.1", "IP:v6"));
  EXPECT_TRUE(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_check_issued(ca_.cert.get(), cert), X509_V_OK);
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert)), 1);
  EXPECT_GE(days, 364);
  EXPECT_LE(days, 366);
  // Hostname checks as a client makes them: the wildcard covers one label.
  EXPECT_EQ(X509_check_host(cert, "x.apps.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "x.y.apps.example.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  X509_free(cert);
}

TEST_F(TlsTest, IssueRejectsBadHostsAndNames) {
  EXPECT_EQ(IssueCert(ca_, {}, dir_.path(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  for (std::string bad : {"", "a b", "a,DNS:evil", "a..b", "-a.test", "a.*.test", "*"}) {
    absl::StatusOr<std::pair<std::string, std::string>> r = IssueCert(ca_, {bad}, dir_.path(), "x");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(IssueCert(ca_, {"a b"}, dir_.path(), "x").status().message(), HasSubstr("\"a b\""));
  EXPECT_THAT(CheckCertHosts({"ok.test", "a b"}).message(), HasSubstr("\"a b\""));
  EXPECT_TRUE(CheckCertHosts({"ok.test", "*.ok.test", "10.0.0.1", "fe80::1"}).ok());
  EXPECT_FALSE(IssueCert(ca_, {"a.test"}, dir_.path(), "../x").ok());
  EXPECT_FALSE(IssueCert(ca_, {"a.test"}, dir_.path(), "").ok());
}

TEST_F(TlsTest, CheckCertKeyNamesTheFileAndTheCause) {
  auto a = Issue({"a.test"}, "a");
  auto b = Issue({"b.test"}, "b");

  absl::Status st = CheckCertKey(a.first, b.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "key " + b.second + " does not match certificate " + a.first);

  st = CheckCertKey(dir_ / "missing.crt", a.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "cert " + (dir_ / "missing.crt") + ": No such file or directory");
  st = CheckCertKey(a.first, dir_ / "missing.key");
  EXPECT_EQ(st.message(), "key " + (dir_ / "missing.key") + ": No such file or directory");

  WriteText(dir_ / "garbage.crt", "hello, I am not a certificate\n");
  st = CheckCertKey(dir_ / "garbage.crt", a.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(),
              HasSubstr("cert " + (dir_ / "garbage.crt") + ": not a PEM certificate"));
  // A certificate where the key should be.
  st = CheckCertKey(a.first, a.first);
  EXPECT_THAT(st.message(), HasSubstr("key " + a.first + ": not a PEM private key"));
  // A directory is not a file.
  st = CheckCertKey(dir_.path(), a.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "cert " + dir_.path() +
                              ": not a regular file (a directory): a certificate must be one");
  // Swapped arguments: the key file is no certificate.
  EXPECT_THAT(CheckCertKey(a.second, a.first).message(), HasSubstr("not a PEM certificate"));
}

// A certificate or key file is named by the user, so it may be anything. Each is refused with its
// name and why, at once: before ReadUserFile, /dev/zero was read until memory ran out (bad_alloc)
// and a FIFO blocked open(2) forever. Each check runs on a thread with a deadline, so a hang fails
// the test instead of stopping it (a writer opening the FIFO then unblocks the reader).
TEST_F(TlsTest, CertificatesAndKeysThatAreNoRegularPemFileAreRefusedAtOnce) {
  auto a = Issue({"a.test"}, "a");
  const std::string fifo = dir_ / "fifo.pem";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  const std::string huge = dir_ / "huge.pem";  // 2 MiB: over the 1 MiB cap (sparse, no disk)
  std::filesystem::resize_file((WriteText(huge, ""), huge), 2u << 20);
  const std::string garbage = dir_ / "garbage.key";
  WriteText(garbage, std::string(5000, '\x7f'));

  auto check = [&](const std::string& cert, const std::string& key) {
    auto done = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> result = done->get_future();
    std::thread t([=] { done->set_value(CheckCertKey(cert, key)); });
    if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      ADD_FAILURE() << "CheckCertKey(" << cert << ", " << key << ") hangs";
      const int w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // lets it go
      t.join();
      if (w >= 0) close(w);
      return absl::DeadlineExceededError("hangs");
    }
    t.join();
    return result.get();
  };
  struct Case {
    std::string what, cert, key;
    absl::StatusCode code;
    std::string message;
  } cases[] = {
      {"a FIFO as the certificate", fifo, a.second, absl::StatusCode::kInvalidArgument,
       "cert " + fifo + ": not a regular file (a FIFO): a certificate must be one"},
      {"a FIFO as the key", a.first, fifo, absl::StatusCode::kInvalidArgument,
       "key " + fifo + ": not a regular file (a FIFO): a key must be one"},
      {"/dev/zero as the certificate", "/dev/zero", a.second, absl::StatusCode::kInvalidArgument,
       "cert /dev/zero: not a regular file (a character device): a certificate must be one"},
      {"/dev/zero as the key", a.first, "/dev/zero", absl::StatusCode::kInvalidArgument,
       "key /dev/zero: not a regular file (a character device): a key must be one"},
      {"a huge certificate", huge, a.second, absl::StatusCode::kResourceExhausted,
       "cert " + huge + ": 2097152 bytes, over the 1 MiB limit for a certificate"},
      {"a huge key", a.first, huge, absl::StatusCode::kResourceExhausted,
       "key " + huge + ": 2097152 bytes, over the 1 MiB limit for a key"},
      {"garbage as the key", a.first, garbage, absl::StatusCode::kInvalidArgument,
       "key " + garbage + ": not a PEM private key (expected a -----BEGIN PRIVATE KEY----- block)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    absl::Status st = check(c.cert, c.key);
    EXPECT_EQ(st.code(), c.code) << st;
    EXPECT_EQ(st.message(), c.message);
    // What serves the listener reads them the same way.
    absl::StatusOr<std::shared_ptr<SSL_CTX>> ctx = ServerContext({Spec({}, {c.cert, c.key})});
    EXPECT_EQ(ctx.status(), st);
  }
}

// What `validate` reports about a lab's certificates (vnet/cluster/lab's LoadLab calls it): each
// bad pair once, at its file:line:col, naming the listener and the file.
TEST_F(TlsTest, CheckLabCertificatesNamesEachBadPairOnceWhereItIsWritten) {
  auto a = Issue({"a.test"}, "a");
  config::ClusterSpec spec;
  config::TlsCertSpec good = Spec({"a.test"}, a);
  good.pos = {10, 3};
  config::TlsCertSpec missing = Spec({"b.test"}, {dir_ / "b.crt", a.second});
  missing.pos = {20, 5};
  config::TlsCertSpec zero = Spec({}, {"/dev/zero", a.second});
  zero.pos = {30, 1};
  config::ListenerSpec https;
  https.name = "https";
  https.protocol = config::ListenerProtocol::kHttps;
  https.tls = {good, missing};
  config::ListenerSpec other = https;  // the same pairs on a second listener: reported once
  other.name = "other";
  other.tls.push_back(zero);
  config::ListenerSpec plain;
  plain.name = "http";
  spec.listeners = {plain, https, other};
  EXPECT_THAT(CheckLabCertificates(spec, "labs/x.toml"),
              ElementsAre("labs/x.toml:20:5: listener \"https\": cert " + (dir_ / "b.crt") +
                              ": No such file or directory",
                          "labs/x.toml:30:1: listener \"other\": cert /dev/zero: not a regular "
                          "file (a character device): a certificate must be one"));
  spec.listeners = {plain};
  EXPECT_TRUE(CheckLabCertificates(spec, "labs/x.toml").empty());
}

TEST_F(TlsTest, CheckCertKeyRejectsAnExpiredCertificate) {
  // An expired certificate signed by hand: same key, notAfter yesterday.
  auto a = Issue({"a.test"}, "a");
  X509* cert = LoadCert(a.first);
  ASSERT_NE(cert, nullptr);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
  ASSERT_GT(X509_sign(cert, ca_.key.get(), EVP_sha256()), 0);
  FILE* f = fopen((dir_ / "expired.crt").c_str(), "w");
  PEM_write_X509(f, cert);
  fclose(f);
  X509_free(cert);
  absl::Status st = CheckCertKey(dir_ / "expired.crt", a.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("cert " + (dir_ / "expired.crt") + ": expired on "));
  EXPECT_THAT(st.message(), HasSubstr("UTC"));
}

TEST(SelectCertTest, ExactThenWildcardThenDefault) {
  std::vector<config::TlsCertSpec> certs = {Spec({"a.test"}, {}),
                                            Spec({"*.wild.test", "b.test"}, {}), Spec({}, {}),
                                            Spec({"x.wild.test"}, {})};
  struct Case {
    std::string sni;
    size_t want;
  } cases[] = {
      {"a.test", 0},
      {"A.TEST", 0},
      {"a.test.", 0},
      {"b.test", 1},
      {"y.wild.test", 1},
      {"x.wild.test", 3},  // exact beats wildcard, even later in the list
      {"wild.test", 2},
      {"a.b.wild.test", 2},  // a wildcard covers exactly one label
      {"", 2},
      {"unknown.test", 2},
  };
  for (const Case& c : cases) EXPECT_EQ(SelectCert(certs, c.sni), c.want) << c.sni;
  // Without a host-less cert the first one is the default.
  std::vector<config::TlsCertSpec> two = {Spec({"a.test"}, {}), Spec({"b.test"}, {})};
  EXPECT_EQ(SelectCert(two, "c.test"), 0u);
  EXPECT_EQ(SelectCert(two, ""), 0u);
}

// One handshake over a socketpair: the server side uses `server`, the client trusts only the CA,
// sends `sni` (none when empty) and verifies `verify_host`. Returns the SANs of the certificate
// presented.
struct HandshakeResult {
  bool ok = false;
  long verify = -1;
  std::vector<std::string> sans;
  std::string alpn;
  int version = 0;
  std::string server_sni;
};

HandshakeResult Handshake(SSL_CTX* server, const std::string& ca_pem, const std::string& sni,
                          const std::string& verify_host, int client_max_version = 0) {
  // Either side may write (close_notify) after the other closed: EPIPE, not a dead test binary.
  signal(SIGPIPE, SIG_IGN);
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  HandshakeResult r;
  std::thread server_thread([&] {
    SSL* s = SSL_new(server);
    SSL_set_fd(s, sv[0]);
    if (SSL_accept(s) == 1) {
      const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
      r.server_sni = name ? name : "";
      char buf[5] = {};
      if (SSL_read(s, buf, 4) == 4) SSL_write(s, "pong", 4);
    }
    SSL_shutdown(s);
    SSL_free(s);
    close(sv[0]);
  });
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  EXPECT_EQ(SSL_CTX_load_verify_locations(cctx, ca_pem.c_str(), nullptr), 1);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  if (client_max_version) SSL_CTX_set_max_proto_version(cctx, client_max_version);
  static const unsigned char kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(cctx, kAlpn, sizeof(kAlpn));
  SSL* c = SSL_new(cctx);
  SSL_set_fd(c, sv[1]);
  if (!sni.empty()) SSL_set_tlsext_host_name(c, sni.c_str());
  if (!verify_host.empty()) SSL_set1_host(c, verify_host.c_str());
  if (SSL_connect(c) == 1) {
    char buf[5] = {};
    r.ok = SSL_write(c, "ping", 4) == 4 && SSL_read(c, buf, 4) == 4 && std::string(buf) == "pong";
    r.verify = SSL_get_verify_result(c);
    X509* peer = SSL_get1_peer_certificate(c);
    if (peer) r.sans = Sans(peer);
    X509_free(peer);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(c, &alpn, &alpn_len);
    r.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    r.version = SSL_version(c);
    SSL_shutdown(c);
  } else {
    r.verify = SSL_get_verify_result(c);
    ERR_clear_error();
  }
  SSL_free(c);
  SSL_CTX_free(cctx);
  close(sv[1]);  // unblocks a server still waiting
  server_thread.join();
  return r;
}

TEST_F(TlsTest, SniSelectsTheCertificateAndTheCaVerifiesIt) {
  auto def = Issue({"default.test"}, "default");
  auto a = Issue({"a.test"}, "a");
  auto wild = Issue({"*.apps.test"}, "wild");
  absl::StatusOr<std::shared_ptr<SSL_CTX>> server = ServerContext(
      {Spec({"default.test"}, def), Spec({"a.test"}, a), Spec({"*.apps.test"}, wild)});
  ASSERT_TRUE(server.ok()) << server.status();

  HandshakeResult r = Handshake(server->get(), ca_.cert_path, "a.test", "a.test");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.verify, X509_V_OK);
  EXPECT_THAT(r.sans, ElementsAre("DNS:a.test"));
  EXPECT_EQ(r.alpn, "http/1.1");
  EXPECT_EQ(r.version, TLS1_3_VERSION);
  EXPECT_EQ(r.server_sni, "a.test");

  r = Handshake(server->get(), ca_.cert_path, "shop.apps.test", "shop.apps.test");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.verify, X509_V_OK);
  EXPECT_THAT(r.sans, ElementsAre("DNS:*.apps.test"));

  // Unknown name and no SNI: the default (first) certificate. Verifying the unknown name then
  // fails, as it must.
  r = Handshake(server->get(), ca_.cert_path, "", "");
  EXPECT_TRUE(r.ok);
  EXPECT_THAT(r.sans, ElementsAre("DNS:default.test"));
  r = Handshake(server->get(), ca_.cert_path, "nope.test", "nope.test");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.verify, X509_V_ERR_HOSTNAME_MISMATCH);

  // TLS 1.2 still works, with SNI switching too.
  r = Handshake(server->get(), ca_.cert_path, "a.test", "a.test", TLS1_2_VERSION);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.version, TLS1_2_VERSION);
  EXPECT_THAT(r.sans, ElementsAre("DNS:a.test"));
  EXPECT_EQ(r.alpn, "http/1.1");
}

TEST_F(TlsTest, ACertificateFromAnotherCaFailsVerification) {
  absl::StatusOr<LocalCa> other = CreateOrLoadCa(dir_ / "other");
  ASSERT_TRUE(other.ok());
  auto files = IssueCert(*other, {"a.test"}, dir_.path(), "foreign");
  ASSERT_TRUE(files.ok());
  auto server = ServerContext({Spec({"a.test"}, *files)});
  ASSERT_TRUE(server.ok()) << server.status();
  HandshakeResult r = Handshake(server->get(), ca_.cert_path, "a.test", "a.test");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.verify, X509_V_OK);
}

TEST_F(TlsTest, ServerContextOutlivesItsOwnerWhileConnectionsUseIt) {
  // An SSL made from the context keeps it (and the SNI table's ctxs) alive after the shared_ptr is
  // gone.
  auto a = Issue({"a.test"}, "a");
  auto b = Issue({"b.test"}, "b");
  auto server = ServerContext({Spec({"a.test"}, a), Spec({"b.test"}, b)});
  ASSERT_TRUE(server.ok());
  SSL_CTX* raw = server->get();
  SSL_CTX_up_ref(raw);  // what boost::asio::ssl::context(native_handle) takes over
  server->reset();
  HandshakeResult r = Handshake(raw, ca_.cert_path, "b.test", "b.test");
  EXPECT_TRUE(r.ok);
  EXPECT_THAT(r.sans, ElementsAre("DNS:b.test"));
  SSL_CTX_free(raw);
}

// A certificate file with its chain: the leaf is checked against the key, and the rest is served
// after it (read from memory, as the check read it, not from the file a second time).
TEST_F(TlsTest, AChainFileServesItsChainAndABrokenChainIsNamed) {
  auto a = Issue({"a.test"}, "a");
  const std::string chain = dir_ / "chain.pem";
  WriteText(chain, ReadText(a.first) + ReadText(ca_.cert_path));
  ASSERT_TRUE(CheckCertKey(chain, a.second).ok());
  absl::StatusOr<std::shared_ptr<SSL_CTX>> ctx =
      ServerContext({Spec({"a.test"}, {chain, a.second})});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  STACK_OF(X509)* extra = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(ctx->get(), &extra), 1);
  EXPECT_EQ(sk_X509_num(extra), 1) << "the CA after the leaf is the chain";
  EXPECT_TRUE(Handshake(ctx->get(), ca_.cert_path, "a.test", "a.test").ok);

  const std::string broken = dir_ / "broken.pem";
  WriteText(broken,
            ReadText(a.first) +
                "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  absl::Status st = CheckCertKey(broken, a.second);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "cert " + broken + ": certificate #2 of the chain is not valid PEM");
}

TEST_F(TlsTest, ServerContextReportsTheBadFile) {
  EXPECT_EQ(ServerContext({}).status().code(), absl::StatusCode::kInvalidArgument);
  auto a = Issue({"a.test"}, "a");
  auto b = Issue({"b.test"}, "b");
  absl::StatusOr<std::shared_ptr<SSL_CTX>> s =
      ServerContext({Spec({"a.test"}, a), Spec({"b.test"}, {b.first, a.second})});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "key " + a.second + " does not match certificate " + b.first);
  s = ServerContext({Spec({"a.test"}, {dir_ / "nope.crt", a.second})});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mkn::vnet
