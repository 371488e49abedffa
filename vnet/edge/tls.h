// vnet/edge/tls — certificates and TLS server contexts for the ingress (OpenSSL 3).
//
// Three jobs, each a plain function over files so the rest of minikube-net never touches OpenSSL
// types except the one SSL_CTX the ingress server needs:
//   CheckCertKey    validation of a [[listener]]/[[ingress]] tls pair before anything is created:
//                   both files readable PEM, the key belongs to the certificate, the certificate
//                   is in its validity window.
//   CreateOrLoadCa  a local CA for labs (`minikube-net cert`, [cluster] auto_tls), and IssueCert,
//                   which signs server certificates with it, so students can `curl --cacert
//                   DIR/ca.pem`.
//   ServerContext   a TLS 1.2/1.3 server SSL_CTX that picks the certificate by SNI, with ALPN
//                   http/1.1.
//
// Contract:
//   - No function here needs privileges or a particular netns; none keeps global state besides
//     one OpenSSL ex_data index. Errors are absl::Status with lowercase "<what> <file>: <cause>"
//     messages that name the file; the caller prefixes the lab file's file:line:col
//     (TlsCertSpec::pos).
//   - Files written: only inside the directory given, atomically (temp file + rename); private
//     keys 0600, certificates 0644.
//   - The returned SSL_CTX is immutable after ServerContext returns and safe to share across Asio
//     threads (OpenSSL locks its internals; SSL objects made from it are per connection).
//
// How the edge uses ServerContext (vnet/edge/ingress.cc, vnet/edge/tls_stream):
//   MKN_ASSIGN_OR_RETURN(std::shared_ptr<SSL_CTX> ctx, vnet::ServerContext(listener.tls));
//   SSL_CTX_up_ref(ctx.get());                      // asio::ssl::context takes over one reference
//   boost::asio::ssl::context asio_ctx(ctx.get());  // and SSL_CTX_free()s it in its destructor
//   TlsStream s(TcpStream(std::move(socket)), asio_ctx.native_handle());  // one SSL per connection
//   co_await s.Handshake();
// Keep asio_ctx alive as long as any stream made from it. Do not call
// asio_ctx.set_verify_callback() or SSL_CTX_set_app_data() on it: nothing here uses app_data, but
// the SNI table lives in the context's ex_data, so also do not change the servername callback.
// After the handshake, SSL_get_servername() is the SNI the client sent (empty without SNI) and
// SSL_get0_alpn_selected() is "http/1.1" or nothing.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

// Checks a certificate/private key pair the way a server loading it would, plus the validity
// window. The certificate file may hold a chain; its first certificate is the one the key must
// match. Each file is read as vnet/kernel/file's ReadUserFile reads it: a regular file of at most
// kMaxPemBytes (1 MiB). Returns OK, or:
//   NotFound          "cert /x/tls.crt: No such file or directory"
//   PermissionDenied  "key /x/tls.key: Permission denied"
//   ResourceExhausted "cert /x/big.crt: 2097152 bytes, over the 1 MiB limit for a certificate"
//   InvalidArgument   "cert /dev/zero: not a regular file (a character device): a certificate must
//                     be one" (a FIFO, a directory likewise),
//                     "cert /x/tls.crt: not a PEM certificate ...",
//                     "key /x/tls.key: not a PEM private key ...",
//                     "key /x/tls.key does not match certificate /x/tls.crt",
//                     "cert /x/tls.crt: expired on 2024-01-01 00:00:00 UTC" (or "not valid before
//                     ...").
absl::Status CheckCertKey(const std::string& cert_path, const std::string& key_path);

// What `up` would refuse about a lab's certificates, found without privileges or a running
// cluster, so that `validate` (and `plan`, `up`: vnet/cluster/lab's LoadLab) says it first: every
// certificate/key pair the lab's listeners serve ([[listener.tls]], or the [[ingress.tls]] an
// HTTPS listener serves), checked as CheckCertKey checks it, each pair once. One line per problem,
// "LAB:LINE:COL: listener \"NAME\": <CheckCertKey's message>" (LINE:COL where the pair is
// written), in the lab's order; none when every pair is good. [cluster] auto_tls certificates are
// made by `up` and not checked here.
std::vector<std::string> CheckLabCertificates(const config::ClusterSpec& spec,
                                              std::string_view lab_path);

// A local certificate authority kept as DIR/ca.pem (certificate) and DIR/ca.key (private key,
// 0600). The OpenSSL objects are shared and immutable; copying a LocalCa is cheap.
struct LocalCa {
  std::string cert_path;  // DIR/ca.pem: what clients trust (curl --cacert)
  std::string key_path;   // DIR/ca.key
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

// Loads DIR/ca.pem + DIR/ca.key if both exist (checked with CheckCertKey and for CA:TRUE), else
// creates DIR (0755, parents too) and a new CA there: EC P-256 key, self-signed, 10 years,
// basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign, CN "minikube-net local
// CA <random>". Only those two files are written. Returns the CheckCertKey codes for a broken pair,
// FailedPrecondition when only one of the two files exists or ca.pem is not a CA, InvalidArgument
// for an empty dir, or vnet/kernel/errors.h's code for a failed mkdir/write.
absl::StatusOr<LocalCa> CreateOrLoadCa(const std::string& dir);

// Issues a server certificate for `hosts` signed by `ca` and writes DIR/<basename>.crt (the
// certificate alone: the CA is the root clients trust, so a server need not send it) and
// DIR/<basename>.key (EC P-256, 0600), replacing files of those names (DIR is created if missing).
// SANs: a DNS name per host name (a leading "*." wildcard label is allowed), an IP address per
// IPv4/IPv6 literal; subject CN is the first host. EKU serverAuth, CA:FALSE, valid for 1 year
// (from 5 minutes ago, for clock skew between namespaces' clients). Returns {cert path, key path},
// or InvalidArgument for no hosts, a host that is not a DNS name or IP literal, or a bad basename;
// vnet/kernel/errors.h's code for a failed write.
absl::StatusOr<std::pair<std::string, std::string>> IssueCert(const LocalCa& ca,
                                                              const std::vector<std::string>& hosts,
                                                              const std::string& dir,
                                                              const std::string& basename);

// Checks that every host can go into a certificate (what IssueCert accepts), so a caller can refuse
// bad input before it creates anything. Returns InvalidArgument naming the first bad host, or for
// no hosts.
absl::Status CheckCertHosts(const std::vector<std::string>& hosts);

// What `minikube-net cert --dir DIR [--name NAME] HOST...` made: the CA (new or reused) and the
// certificate and key files it issued.
struct LabCert {
  std::string ca_cert_path, ca_key_path;
  bool ca_reused = false;
  std::string cert_path, key_path;
};

// `minikube-net cert`: checks the hosts, makes or reuses the CA in `dir`, and issues a certificate
// for `hosts` as DIR/NAME.crt and DIR/NAME.key; NAME defaults to the first host with '*' ':' '/'
// made '_' ("*.shop.lab" -> "_wildcard.shop.lab"). InvalidArgument for a host that cannot go into
// a certificate (nothing is written then); any other failure (the directory, the files, OpenSSL)
// is never InvalidArgument or NotFound: FailedPrecondition or the code CreateOrLoadCa/IssueCert
// gave.
absl::StatusOr<LabCert> MakeLabCert(std::string dir, const std::string& name,
                                    const std::vector<std::string>& hosts);

// A TLS server context for one listener. Each TlsCertSpec becomes its own SSL_CTX (certificate
// chain + key, TLS 1.2..1.3, ALPN "http/1.1", no renegotiation, server cipher preference); the
// returned one is the default certificate's, and its servername callback switches a connection to
// the SSL_CTX chosen by SelectCert (SSL_set_SSL_CTX) during the ClientHello. Every pair is checked
// with CheckCertKey first. Returns InvalidArgument for an empty list, the CheckCertKey codes
// (message naming the file), or Internal for an OpenSSL failure with its error text.
absl::StatusOr<std::shared_ptr<SSL_CTX>> ServerContext(
    const std::vector<config::TlsCertSpec>& certs);

// Which of `certs` serves a ClientHello with server name `sni` (lowercased before matching; empty =
// no SNI): a cert listing `sni` exactly; else one listing the wildcard "*.<parent>" where sni is
// "<one label>.<parent>" (Kubernetes/Gateway semantics: "*.example.com" matches "a.example.com",
// not "example.com" nor "a.b.example.com"); else the default: the first cert with no hosts, else
// the first. Earlier certs win ties. Pure; `certs` must not be empty.
size_t SelectCert(const std::vector<config::TlsCertSpec>& certs, std::string_view sni);

}  // namespace mkn::vnet
