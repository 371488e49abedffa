#include "vnet/edge/tls_stream.h"

#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>

namespace mkn::vnet::edge_internal {

TlsStream::TlsStream(TcpStream s, SSL_CTX* ctx)
    : s_(std::move(s)), core_(std::make_unique<Core>()) {
  core_->ssl = SSL_new(ctx);
  if (core_->ssl == nullptr) return;  // Handshake() reports it
  BIO* bio = BIO_new(Method());
  BIO_set_data(bio, core_.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(core_->ssl, bio, bio);  // one reference for both directions
  SSL_set_accept_state(core_->ssl);
  // The BIO is memory: let OpenSSL take all that is buffered in one call, not a record header and
  // then its body.
  SSL_set_read_ahead(core_->ssl, 1);
}

TlsStream::~TlsStream() {
  if (core_ && core_->ssl != nullptr) SSL_free(core_->ssl);
}

awaitable<beast::error_code> TlsStream::Handshake() {
  if (core_->ssl == nullptr) {
    const beast::error_code ec = MakeSslError();
    ERR_clear_error();
    co_return ec;
  }
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(core_->ssl);
    beast::error_code ec = co_await FlushAll(true);
    if (ec) co_return ec;
    if (r == 1) co_return ec;
    const int err = SSL_get_error(core_->ssl, r);
    if (err != SSL_ERROR_WANT_READ) co_return MapError(err, r);
    ec = co_await Receive(true);
    if (ec) co_return ec;
  }
}

awaitable<beast::error_code> TlsStream::Shutdown() {
  for (;;) {
    ERR_clear_error();
    const int r = SSL_shutdown(core_->ssl);
    beast::error_code ec = co_await FlushAll(true);
    if (ec || r == 1) co_return ec;
    if (r == 0) {  // sent ours: now the peer's
      ec = co_await Receive(true);
      if (ec) co_return ec;
      continue;
    }
    const int err = SSL_get_error(core_->ssl, r);
    if (err != SSL_ERROR_WANT_READ) co_return MapError(err, r);
    ec = co_await Receive(true);
    if (ec) co_return ec;
  }
}

int TlsStream::BioWrite(BIO* bio, const char* data, int n) {
  auto* c = static_cast<Core*>(BIO_get_data(bio));
  c->out.append(data, static_cast<size_t>(n));
  return n;
}

int TlsStream::BioRead(BIO* bio, char* data, int n) {
  auto* c = static_cast<Core*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const size_t avail = c->in_end - c->in_pos;
  if (avail == 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const size_t k = std::min(avail, static_cast<size_t>(n));
  std::memcpy(data, c->in.get() + c->in_pos, k);
  c->in_pos += k;
  return static_cast<int>(k);
}

long TlsStream::BioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

BIO_METHOD* TlsStream::Method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mkn-ingress");
    BIO_meth_set_write(bm, BioWrite);
    BIO_meth_set_read(bm, BioRead);
    BIO_meth_set_ctrl(bm, BioCtrl);
    return bm;
  }();
  return m;
}

beast::error_code TlsStream::MakeSslError() {
  const unsigned long e = ERR_get_error();
  return beast::error_code(e != 0 ? static_cast<int>(e) : ERR_R_INTERNAL_ERROR,
                           asio::error::get_ssl_category());
}

beast::error_code TlsStream::MapError(int err, int r) {
  beast::error_code ec;
  if (err == SSL_ERROR_ZERO_RETURN) {
    ec = asio::error::eof;
  } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && r == 0) {
    ec = asio::ssl::error::stream_truncated;
  } else {
    ec = MakeSslError();
  }
  ERR_clear_error();
  return ec;
}

beast::error_code TlsStream::Eof() const {
  return (SSL_get_shutdown(core_->ssl) & SSL_RECEIVED_SHUTDOWN)
             ? beast::error_code(asio::error::eof)
             : beast::error_code(asio::ssl::error::stream_truncated);
}

bool TlsStream::ReceiveNow(beast::error_code& ec) {
  const asio::mutable_buffer space = InSpace();
  if (space.size() == 0) {  // as in Receive
    ec = asio::error::no_buffer_space;
    return false;
  }
  const size_t n = s_.socket().read_some(space, ec);
  if (ec == asio::error::eof) ec = Eof();
  if (ec) return false;
  core_->in_end += n;
  return true;
}

}  // namespace mkn::vnet::edge_internal
