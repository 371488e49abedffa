// bench/services/connrate — new TCP connections per second to one address, for about a second.
//
//   connrate ADDR PORT [SECONDS] [MAX]
//
// Each connection: connect, write one byte, read the echo (tcp-echo) or anything, close.
// Sequential, one at a time: the rate is the inverse of one connection's round trip through the
// path (SYN, SYN-ACK, ACK, data, FIN) plus the local socket cost, measured the same way for every
// path. Closing with a reset (SO_LINGER 0) keeps the client from running out of ports in TIME_WAIT
// on a long run. Bounded by SECONDS (default 1) and MAX connections (default 200000). Prints
// "<connections> <seconds> <per second>"; exit 1 on the first failed connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: connrate ADDR PORT [SECONDS] [MAX]\n");
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1)
    return fprintf(stderr, "bad address %s\n", argv[1]), 2;
  double seconds = argc > 3 ? std::atof(argv[3]) : 1.0;
  long max = argc > 4 ? std::atol(argv[4]) : 200000;
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  long n = 0;
  while (Clock::now() < end && n < max) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
      perror("connect");
      return 1;
    }
    char c = 'x';
    if (::write(fd, &c, 1) != 1 || ::read(fd, &c, 1) != 1) {
      fprintf(stderr, "connection %ld: no echo\n", n);
      return 1;
    }
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd);
    ++n;
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  printf("%ld %.3f %.0f\n", n, s, n / s);
  return 0;
}
