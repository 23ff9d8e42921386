// The fault tests' proxy itself (tests/support/tcp_proxy.h), in front of an echo server on loopback.
#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <string>
#include <thread>

namespace gradients::testing {
namespace {

using namespace std::chrono_literals;

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0) << errno;
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};  // a test that would hang fails instead
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Reads until `bytes` arrived, the end, or an error; errno of the error in `error` (0 at the end).
std::string ReceiveUpTo(int fd, size_t bytes, int& error) {
  std::string received;
  error = 0;
  char buffer[65536];
  while (received.size() < bytes) {
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) {
      error = got < 0 ? errno : 0;
      break;
    }
    received.append(buffer, static_cast<size_t>(got));
  }
  return received;
}

// Echoes each connection's bytes back, one connection at a time; counts what it got.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    socklen_t length = sizeof(address);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    stopping_ = true;
    thread_.join();
    close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  uint64_t received() const { return received_; }
  int64_t resets_seen() const { return resets_seen_; }

 private:
  void Serve() {
    while (!stopping_) {
      pollfd listening{listen_fd_, POLLIN, 0};
      if (poll(&listening, 1, 50) <= 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      char buffer[65536];
      for (;;) {
        pollfd connection{fd, POLLIN, 0};
        if (poll(&connection, 1, 50) == 0) {
          if (stopping_) break;
          continue;
        }
        const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
        if (got <= 0) {
          if (got < 0 && errno == ECONNRESET) ++resets_seen_;
          break;
        }
        received_ += static_cast<uint64_t>(got);
        if (send(fd, buffer, static_cast<size_t>(got), MSG_NOSIGNAL) < 0) {
          if (errno == ECONNRESET || errno == EPIPE) ++resets_seen_;
          break;
        }
      }
      close(fd);
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::atomic<uint64_t> received_ = 0;
  std::atomic<int64_t> resets_seen_ = 0;
  std::thread thread_;
};

TEST(TcpProxy, PassesEveryByteUnchangedBothWaysAndHoldsEachChunkForTheDelay) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  proxy.SetDelay(30ms);
  std::string sent(600'000, '\0');
  std::mt19937 random(7);
  for (char& byte : sent) byte = static_cast<char>(random());
  const int fd = ConnectTo(proxy.port());
  const auto started = std::chrono::steady_clock::now();
  std::thread sender([&] { EXPECT_EQ(send(fd, sent.data(), sent.size(), MSG_NOSIGNAL), ssize_t(sent.size())); });
  int error = 0;
  const std::string echoed = ReceiveUpTo(fd, sent.size(), error);
  sender.join();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 60ms);  // held on the way there and back
  EXPECT_EQ(error, 0);
  EXPECT_TRUE(echoed == sent) << echoed.size() << " bytes came back of " << sent.size();
  EXPECT_EQ(proxy.upstream_bytes(), sent.size());
  // Counted once send() returned: the client may have read the last bytes a moment before.
  for (int i = 0; i < 100 && proxy.downstream_bytes() < sent.size(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy.downstream_bytes(), sent.size());
  EXPECT_EQ(proxy.connections(), 1);
  EXPECT_EQ(proxy.resets(), 0);
  close(fd);
}

TEST(TcpProxy, ResetsTruncatesAndRefusesConnectionsWhenToldAndForwardsAgainOnceTheFaultIsLifted) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  int error = 0;

  // Reset: both ends see a broken connection, not an orderly end.
  int fd = ConnectTo(proxy.port());
  ASSERT_EQ(send(fd, "hello", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(ReceiveUpTo(fd, 5, error), "hello");
  proxy.ResetAll();
  EXPECT_EQ(ReceiveUpTo(fd, 1, error), "");
  EXPECT_EQ(error, ECONNRESET);
  close(fd);
  for (int i = 0; i < 200 && echo.resets_seen() < 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(echo.resets_seen(), 1);

  // Truncation: the target gets the first 1000 bytes of the connection, then the reset.
  proxy.SetUpstreamLimit(1000);
  fd = ConnectTo(proxy.port());
  const std::string sent(5000, 'x');
  ASSERT_EQ(send(fd, sent.data(), sent.size(), MSG_NOSIGNAL), 5000);
  const std::string echoed = ReceiveUpTo(fd, sent.size(), error);
  EXPECT_LE(echoed.size(), 1000u);
  EXPECT_EQ(error, ECONNRESET);
  close(fd);
  EXPECT_EQ(proxy.upstream_bytes(), 5u + 1000u);
  for (int i = 0; i < 200 && echo.resets_seen() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_LE(echo.received(), 5u + 1000u);

  // Refusal: the connection is reset before a byte goes through.
  proxy.SetUpstreamLimit(std::nullopt);
  proxy.SetRefuseNew(true);
  fd = ConnectTo(proxy.port());  // the kernel completes the handshake; the proxy resets it at once
  EXPECT_EQ(ReceiveUpTo(fd, 4, error), "");
  EXPECT_EQ(error, ECONNRESET);
  close(fd);
  EXPECT_EQ(proxy.connections(), 2);

  proxy.SetRefuseNew(false);
  fd = ConnectTo(proxy.port());
  ASSERT_EQ(send(fd, "again", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(ReceiveUpTo(fd, 5, error), "again");
  close(fd);
  EXPECT_EQ(proxy.resets(), 3);
}

}  // namespace
}  // namespace gradients::testing
