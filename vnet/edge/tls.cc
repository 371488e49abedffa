// vnet/edge/tls — see tls.h.
#include "vnet/edge/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/file.h"

namespace mkn::vnet {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

// The OpenSSL error queue as one line (and cleared), for Internal errors.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(StrCat(what, ": ", OpenSslErrors()));
}

// A PEM file the user named, whole: through vnet/kernel/file's ReadUserFile (regular files only,
// at most kMaxPemBytes), so `cert = "/dev/zero"` is refused instead of read until memory runs out,
// and a FIFO instead of waited on forever. `what` is "cert" or "key": the message reads
// "cert PATH: <cause>", as every message here names a file. Each file is read once and parsed from
// memory: what was checked is what is served.
absl::StatusOr<std::string> ReadPem(std::string_view what, const std::string& path) {
  absl::StatusOr<std::string> pem =
      ReadUserFile(path, kMaxPemBytes, what == "cert" ? "a certificate" : "a key");
  if (!pem.ok())
    return absl::Status(pem.status().code(), StrCat(what, " ", pem.status().message()));
  return pem;
}

// Writes `data` to `path` through a temp file in the same directory and rename(), with `mode`.
absl::Status WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return KernelError(errno, StrCat("write ", path));
  // The umask may have cleared bits; a key must be exactly 0600 whatever the umask says.
  if (fchmod(fd, mode) < 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return KernelError(err, StrCat("chmod ", tmp));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return KernelError(err, StrCat("write ", path));
    }
    off += n;
  }
  if (close(fd) < 0 || rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    unlink(tmp.c_str());
    return KernelError(err, StrCat("write ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return KernelError(ec.value(), StrCat("create directory ", dir));
  return absl::OkStatus();
}

// A password callback that refuses: an encrypted key fails to load instead of prompting on the
// terminal.
int NoPassword(char*, int, int, void*) { return 0; }

// A certificate file: its first certificate and any that follow it (the chain a server sends).
struct CertChain {
  X509Ptr leaf;
  std::vector<X509Ptr> rest;
};

absl::StatusOr<CertChain> ReadCertChain(const std::string& path) {
  MKN_ASSIGN_OR_RETURN(std::string pem, ReadPem("cert", path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertChain c;
  // _AUX for the first, as SSL_CTX_use_certificate_chain_file reads it (a trusted-certificate
  // block is accepted too).
  c.leaf.reset(PEM_read_bio_X509_AUX(bio.get(), nullptr, NoPassword, nullptr));
  if (c.leaf == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(StrCat(
        "cert ", path, ": not a PEM certificate (expected a -----BEGIN CERTIFICATE----- block)"));
  }
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr))
    c.rest.emplace_back(x);
  // The end of the blocks shows as "no start line"; anything else is a broken one.
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (err != 0 &&
      !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    return absl::InvalidArgumentError(StrCat("cert ", path, ": certificate #", c.rest.size() + 2,
                                             " of the chain is not valid PEM"));
  }
  return c;
}

absl::StatusOr<X509Ptr> ReadCert(const std::string& path) {
  MKN_ASSIGN_OR_RETURN(CertChain c, ReadCertChain(path));
  return std::move(c.leaf);
}

absl::StatusOr<PkeyPtr> ReadKey(const std::string& path) {
  MKN_ASSIGN_OR_RETURN(std::string pem, ReadPem("key", path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    std::string hint = absl::StrContains(pem, "ENCRYPTED")
                           ? "an encrypted key: minikube-net needs it without a passphrase "
                             "(openssl pkey -in KEY -out KEY)"
                           : "not a PEM private key (expected a -----BEGIN PRIVATE KEY----- block)";
    return absl::InvalidArgumentError(StrCat("key ", path, ": ", hint));
  }
  return key;
}

std::string FormatTime(const ASN1_TIME* t) {
  struct tm tm;
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

absl::Status CheckValidity(X509* cert, const std::string& path) {
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    return absl::InvalidArgumentError(
        StrCat("cert ", path, ": not valid before ", FormatTime(X509_get0_notBefore(cert))));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    return absl::InvalidArgumentError(
        StrCat("cert ", path, ": expired on ", FormatTime(X509_get0_notAfter(cert))));
  }
  return absl::OkStatus();
}

absl::Status CheckPair(X509* cert, EVP_PKEY* key, const std::string& cert_path,
                       const std::string& key_path) {
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        StrCat("key ", key_path, " does not match certificate ", cert_path));
  }
  return CheckValidity(cert, cert_path);
}

absl::StatusOr<PkeyPtr> NewEcKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("generate EC P-256 key");
  return key;
}

// A random positive 128-bit serial (RFC 5280: unique per CA, at most 20 octets).
absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("random serial");
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never zero, never negative
  BIGNUM* bn = BN_bin2bn(bytes, sizeof(bytes), nullptr);
  bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok ? absl::OkStatus() : OpenSslError("set serial");
}

absl::Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError(StrCat("extension ", OBJ_nid2sn(nid), " = ", value));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? absl::OkStatus() : OpenSslError("add extension");
}

absl::Status SetName(X509_NAME* name, const std::string& cn) {
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("minikube-net"), -1, -1,
                                 0) != 1 ||
      (!cn.empty() && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                 reinterpret_cast<const unsigned char*>(cn.c_str()),
                                                 -1, -1, 0) != 1)) {
    return OpenSslError("set subject name");
  }
  return absl::OkStatus();
}

// A certificate with version 3, a random serial, and validity [now - 5 min, now + days].
absl::StatusOr<X509Ptr> NewCert(EVP_PKEY* key, long days) {
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1)
    return OpenSslError("new certificate");
  MKN_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(days), 0, nullptr) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("set validity and public key");
  }
  return cert;
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encode private key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A DNS name as a certificate may carry it: labels of [a-z0-9-] (and '_', seen in labs), 1..63
// bytes, not starting or ending with '-', a leading "*." allowed, 253 bytes at most.
bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.substr(0, 2) == "*.") host.remove_prefix(2);
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    std::string_view label = host.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    start = end + 1;
  }
  return true;
}

absl::StatusOr<std::string> SubjectAltNames(const std::vector<std::string>& hosts) {
  if (hosts.empty()) return absl::InvalidArgumentError("issue certificate: no hosts given");
  std::vector<std::string> sans;
  for (const std::string& h : hosts) {
    if (IsIpLiteral(h)) {
      sans.push_back(StrCat("IP:", h));
    } else if (IsDnsName(h)) {
      sans.push_back(StrCat("DNS:", absl::AsciiStrToLower(h)));
    } else {
      return absl::InvalidArgumentError(
          StrCat("issue certificate: host \"", h,
                 "\" is neither a DNS name (a.example.com, *.example.com) nor an IP address"));
    }
  }
  return absl::StrJoin(sans, ",");
}

// ALPN: the ingress speaks HTTP/1.1 only. A client that offers ALPN without it (h2 only) still gets
// a handshake without ALPN (NOACK) and then an HTTP/1.1 server, as nginx without http2 does.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// What the default SSL_CTX carries for its servername callback: every cert's spec and SSL_CTX, by
// index (the default's own slot is null).
struct SniTable {
  std::vector<config::TlsCertSpec> certs;
  std::vector<CtxPtr> ctxs;
};

void FreeSniTable(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<SniTable*>(ptr);
}

// Our own ex_data slot (never 0, which is app_data: asio::ssl::context deletes what it finds
// there).
int SniIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeSniTable);
  return index;
}

int OnServerName(SSL* ssl, int*, void*) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  auto* table = static_cast<SniTable*>(SSL_CTX_get_ex_data(ctx, SniIndex()));
  // No table: already switched (a TLS 1.3 HelloRetryRequest brings a second ClientHello, and
  // OpenSSL then calls the session ctx's callback, this one, again).
  if (table == nullptr) return SSL_TLSEXT_ERR_OK;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  size_t i = SelectCert(table->certs, name == nullptr ? "" : name);
  SSL_CTX* chosen = table->ctxs[i].get();  // null: the default, which this connection already has
  if (chosen != nullptr && SSL_set_SSL_CTX(ssl, chosen) == nullptr)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

absl::StatusOr<CtxPtr> OneContext(const config::TlsCertSpec& spec) {
  // Read and checked once, then handed to OpenSSL from memory (not SSL_CTX_use_*_file, which
  // would read the files a second time, unchecked).
  MKN_ASSIGN_OR_RETURN(CertChain chain, ReadCertChain(spec.cert));
  MKN_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(spec.key));
  MKN_RETURN_IF_ERROR(CheckPair(chain.leaf.get(), key.get(), spec.cert, spec.key));
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return OpenSslError("new SSL_CTX");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return OpenSslError("set TLS versions");
  }
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // One session id context for every cert's ctx, so a session survives the SSL_set_SSL_CTX switch.
  static const unsigned char kSid[] = "minikube-net";
  SSL_CTX_set_session_id_context(c, kSid, sizeof(kSid) - 1);
  if (SSL_CTX_use_certificate(c, chain.leaf.get()) != 1) {
    return absl::InvalidArgumentError(StrCat("cert ", spec.cert, ": ", OpenSslErrors()));
  }
  for (X509Ptr& x : chain.rest) {
    if (SSL_CTX_add0_chain_cert(c, x.get()) != 1)
      return absl::InvalidArgumentError(StrCat("cert ", spec.cert, ": ", OpenSslErrors()));
    x.release();  // the ctx owns it now (add0)
  }
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    return absl::InvalidArgumentError(StrCat("key ", spec.key, ": ", OpenSslErrors()));
  }
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  return ctx;
}

}  // namespace

absl::Status CheckCertKey(const std::string& cert_path, const std::string& key_path) {
  MKN_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_path));
  MKN_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(key_path));
  return CheckPair(cert.get(), key.get(), cert_path, key_path);
}

std::vector<std::string> CheckLabCertificates(const config::ClusterSpec& spec,
                                              std::string_view lab_path) {
  std::vector<std::string> out;
  std::set<std::pair<std::string, std::string>> seen;  // an ingress's pair serves several listeners
  for (const config::ListenerSpec& l : spec.listeners) {
    for (const config::TlsCertSpec& c : l.tls) {
      if (!seen.emplace(c.cert, c.key).second) continue;
      if (absl::Status s = CheckCertKey(c.cert, c.key); !s.ok()) {
        out.push_back(StrCat(lab_path, ":", c.pos.line, ":", c.pos.col, ": listener \"", l.name,
                             "\": ", s.message()));
      }
    }
  }
  return out;
}

absl::StatusOr<LocalCa> CreateOrLoadCa(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("local CA: empty directory name");
  LocalCa ca;
  ca.cert_path = StrCat(dir, "/ca.pem");
  ca.key_path = StrCat(dir, "/ca.key");
  bool have_cert = access(ca.cert_path.c_str(), F_OK) == 0;
  bool have_key = access(ca.key_path.c_str(), F_OK) == 0;
  if (have_cert != have_key) {
    return absl::FailedPreconditionError(
        StrCat("local CA in ", dir, ": ", have_cert ? ca.cert_path : ca.key_path, " exists but ",
               have_cert ? ca.key_path : ca.cert_path,
               " does not: restore it or remove both to make a new CA"));
  }
  if (have_cert) {
    MKN_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(ca.cert_path));
    MKN_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(ca.key_path));
    MKN_RETURN_IF_ERROR(CheckPair(cert.get(), key.get(), ca.cert_path, ca.key_path));
    if (X509_check_ca(cert.get()) == 0) {
      return absl::FailedPreconditionError(
          StrCat("cert ", ca.cert_path, ": not a CA certificate (no basicConstraints CA:TRUE)"));
    }
    ca.cert.reset(cert.release(), X509_free);
    ca.key.reset(key.release(), EVP_PKEY_free);
    return ca;
  }

  MKN_RETURN_IF_ERROR(MakeDirs(dir));
  MKN_ASSIGN_OR_RETURN(PkeyPtr key, NewEcKey());
  MKN_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(key.get(), 3650));
  // A random suffix: two labs' CAs must not share a subject, or a client that trusts both gets
  // confused.
  unsigned char r[4];
  RAND_bytes(r, sizeof(r));
  char suffix[16];
  snprintf(suffix, sizeof(suffix), "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
  MKN_RETURN_IF_ERROR(
      SetName(X509_get_subject_name(cert.get()), StrCat("minikube-net local CA ", suffix)));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1)
    return OpenSslError("set issuer");
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_basic_constraints, "critical,CA:TRUE"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_key_usage, "critical,keyCertSign,cRLSign"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_subject_key_identifier, "hash"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return OpenSslError("sign CA certificate");
  MKN_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  // The key first: a ca.pem without its key would make the next run refuse the directory.
  MKN_RETURN_IF_ERROR(WriteFileAtomic(ca.key_path, key_pem, 0600));
  MKN_RETURN_IF_ERROR(WriteFileAtomic(ca.cert_path, ToPem(cert.get()), 0644));
  ca.cert.reset(cert.release(), X509_free);
  ca.key.reset(key.release(), EVP_PKEY_free);
  return ca;
}

absl::StatusOr<std::pair<std::string, std::string>> IssueCert(const LocalCa& ca,
                                                              const std::vector<std::string>& hosts,
                                                              const std::string& dir,
                                                              const std::string& basename) {
  if (ca.cert == nullptr || ca.key == nullptr)
    return absl::InvalidArgumentError("issue certificate: no CA loaded");
  if (basename.empty() || basename.find('/') != std::string::npos || basename[0] == '.') {
    return absl::InvalidArgumentError(
        StrCat("issue certificate: bad file base name \"", basename, "\""));
  }
  MKN_ASSIGN_OR_RETURN(std::string sans, SubjectAltNames(hosts));
  MKN_RETURN_IF_ERROR(MakeDirs(dir));
  MKN_ASSIGN_OR_RETURN(PkeyPtr key, NewEcKey());
  MKN_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(key.get(), 365));
  // CN is informational (clients match SANs); it is limited to 64 bytes, so a long first host goes
  // without.
  std::string cn = hosts[0].size() <= 64 ? hosts[0] : "";
  MKN_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), cn));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1)
    return OpenSslError("set issuer");
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, ca.cert.get(), cert.get(), nullptr, nullptr, 0);
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_basic_constraints, "critical,CA:FALSE"));
  MKN_RETURN_IF_ERROR(
      AddExt(cert.get(), &v3, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_ext_key_usage, "serverAuth"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_subject_key_identifier, "hash"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_authority_key_identifier, "keyid"));
  MKN_RETURN_IF_ERROR(AddExt(cert.get(), &v3, NID_subject_alt_name, sans));
  if (X509_sign(cert.get(), ca.key.get(), EVP_sha256()) == 0)
    return OpenSslError("sign certificate");
  std::string cert_path = StrCat(dir, "/", basename, ".crt");
  std::string key_path = StrCat(dir, "/", basename, ".key");
  MKN_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  MKN_RETURN_IF_ERROR(WriteFileAtomic(key_path, key_pem, 0600));
  MKN_RETURN_IF_ERROR(WriteFileAtomic(cert_path, ToPem(cert.get()), 0644));
  return std::make_pair(cert_path, key_path);
}

absl::Status CheckCertHosts(const std::vector<std::string>& hosts) {
  return SubjectAltNames(hosts).status();
}

size_t SelectCert(const std::vector<config::TlsCertSpec>& certs, std::string_view sni) {
  std::string name = absl::AsciiStrToLower(std::string(sni));
  if (!name.empty() && name.back() == '.') name.pop_back();  // "a.example.com." is the same name
  if (!name.empty()) {
    for (size_t i = 0; i < certs.size(); ++i) {
      for (const std::string& h : certs[i].hosts) {
        if (absl::EqualsIgnoreCase(h, name)) return i;
      }
    }
    size_t dot = name.find('.');
    if (dot != std::string::npos && dot > 0) {
      std::string wildcard = StrCat("*", name.substr(dot));
      for (size_t i = 0; i < certs.size(); ++i) {
        for (const std::string& h : certs[i].hosts) {
          if (absl::EqualsIgnoreCase(h, wildcard)) return i;
        }
      }
    }
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    if (certs[i].hosts.empty()) return i;
  }
  return 0;
}

absl::StatusOr<std::shared_ptr<SSL_CTX>> ServerContext(
    const std::vector<config::TlsCertSpec>& certs) {
  if (certs.empty()) return absl::InvalidArgumentError("TLS listener: no certificate configured");
  auto table = std::make_unique<SniTable>();
  table->certs = certs;
  for (const config::TlsCertSpec& spec : certs) {
    MKN_ASSIGN_OR_RETURN(CtxPtr ctx, OneContext(spec));
    table->ctxs.push_back(std::move(ctx));
  }
  size_t def = SelectCert(certs, "");
  // The default ctx is the one SSL_new() sees; the caller owns it. The table (freed with it through
  // ex_data) keeps the others, and a null in the default's slot: holding the default too would be a
  // cycle.
  SSL_CTX* def_ctx = table->ctxs[def].release();
  std::shared_ptr<SSL_CTX> out(def_ctx, SSL_CTX_free);
  if (certs.size() > 1) {
    SSL_CTX_set_tlsext_servername_callback(def_ctx, OnServerName);
    if (SSL_CTX_set_ex_data(def_ctx, SniIndex(), table.get()) != 1)
      return OpenSslError("attach SNI table");
    table.release();  // owned by def_ctx now (FreeSniTable)
  }
  return out;
}

absl::StatusOr<LabCert> MakeLabCert(std::string dir, const std::string& name,
                                    const std::vector<std::string>& hosts) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string base = name;
  if (base.empty() && !hosts.empty()) {  // "*.shop.lab" -> "_wildcard.shop.lab", "::1" -> "__1"
    base = hosts[0].rfind("*.", 0) == 0 ? "_wildcard" + hosts[0].substr(1) : hosts[0];
    for (char& c : base) c = (c == '/' || c == ':' || c == '*') ? '_' : c;
  }
  MKN_RETURN_IF_ERROR(CheckCertHosts(hosts));
  // Past the hosts, a failure is the files' (a directory that cannot be written), not bad usage.
  auto failure = [](const absl::Status& st) {
    return absl::IsInvalidArgument(st) || absl::IsNotFound(st)
               ? absl::FailedPreconditionError(st.message())
               : st;
  };
  LabCert out;
  out.ca_reused = ::access((dir + "/ca.pem").c_str(), F_OK) == 0;
  absl::StatusOr<LocalCa> ca = CreateOrLoadCa(dir);
  if (!ca.ok()) return failure(ca.status());
  out.ca_cert_path = ca->cert_path;
  out.ca_key_path = ca->key_path;
  absl::StatusOr<std::pair<std::string, std::string>> files = IssueCert(*ca, hosts, dir, base);
  if (!files.ok()) {  // a host it cannot issue for is bad usage; anything else a failure
    return absl::IsInvalidArgument(files.status()) ? files.status() : failure(files.status());
  }
  out.cert_path = files->first;
  out.key_path = files->second;
  return out;
}

}  // namespace mkn::vnet
