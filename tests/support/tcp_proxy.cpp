#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <vector>

namespace gradients::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxQueuedBytes = 1 << 20;  // per direction: reading from its source pauses beyond it
constexpr size_t kReadBytes = 64 << 10;
constexpr auto kLongestPoll = std::chrono::milliseconds(50);

// Closes with an RST instead of a FIN: the peer sees its connection reset.
void CloseWithReset(int fd) {
  if (fd < 0) return;
  const linger option{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  close(fd);
}

void Prepare(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // the proxy adds no batching of its own
}

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("TcpProxy: " + what + ": " + std::strerror(errno));
}

}  // namespace

struct TcpProxy::Chunk {
  Clock::time_point due;
  std::string data;
  size_t sent = 0;
};

// One direction of a connection: what was read from its source and waits to be written.
struct TcpProxy::Flow {
  std::deque<Chunk> queue;
  size_t queued = 0;
  bool source_closed = false;  // its source sent FIN
  bool shut = false;           // FIN passed on

  bool Due(Clock::time_point now) const { return !queue.empty() && queue.front().due <= now; }
  bool Drained() const { return queue.empty(); }
};

struct TcpProxy::Connection {
  int client = -1, target = -1;
  Flow up, down;  // up: client to target
  uint64_t up_read = 0;
  std::optional<uint64_t> up_cap;  // reset once this many bytes were read from the client and passed on
  bool cut = false;                // the cap is reached: reset once `up` is passed on
  bool dead = false;
};

TcpProxy::TcpProxy(const std::string& target, int port) {
  const size_t colon = target.rfind(':');
  in_addr host{};
  if (colon == std::string::npos || inet_pton(AF_INET, target.substr(0, colon).c_str(), &host) != 1) {
    throw std::runtime_error("TcpProxy: target \"" + target + "\" is not a.b.c.d:port");
  }
  target_host_ = host.s_addr;
  target_port_ = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Fail("socket");
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) Fail("bind");
  if (listen(listen_fd_, 64) != 0) Fail("listen");
  socklen_t length = sizeof(address);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) Fail("eventfd");
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard lock(mutex_);
    controls_.stopping = true;
  }
  Wake();
  thread_.join();
  close(listen_fd_);
  close(wake_fd_);
}

void TcpProxy::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void TcpProxy::SetDelay(std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mutex_);
    controls_.delay = delay;
  }
  Wake();
}

void TcpProxy::SetUpstreamLimit(std::optional<uint64_t> bytes) {
  {
    std::lock_guard lock(mutex_);
    controls_.upstream_limit = bytes;
    ++controls_.limit_generation;
  }
  Wake();
}

void TcpProxy::SetRefuseNew(bool refuse) {
  {
    std::lock_guard lock(mutex_);
    controls_.refuse_new = refuse;
  }
  Wake();
}

void TcpProxy::ResetAll() {
  std::unique_lock lock(mutex_);
  const uint64_t generation = ++controls_.resets_requested;
  lock.unlock();
  Wake();
  lock.lock();
  // Bounded: a loop that stopped on an error must not hang the test that asked.
  reset_done_.wait_for(lock, std::chrono::seconds(10), [&] { return resets_done_ >= generation; });
}

TcpProxy::Controls TcpProxy::ReadControls() {
  std::lock_guard lock(mutex_);
  return controls_;
}

void TcpProxy::Run() {
  std::vector<std::unique_ptr<Connection>> connections;
  uint64_t limit_generation = 0, resets_handled = 0;
  const auto reset = [&](Connection& connection) {
    CloseWithReset(connection.client);
    CloseWithReset(connection.target);
    connection.client = connection.target = -1;
    connection.dead = true;
  };
  // Reads what `from` has into `flow`; false when the connection broke.
  const auto read_into = [&](Connection& connection, int from, Flow& flow, bool upstream, const Controls& controls) {
    std::string buffer(kReadBytes, '\0');
    const ssize_t got = recv(from, buffer.data(), buffer.size(), 0);
    if (got == 0) {
      flow.source_closed = true;
      return true;
    }
    if (got < 0) return errno == EAGAIN || errno == EINTR;
    buffer.resize(static_cast<size_t>(got));
    if (upstream && connection.up_cap) {
      const uint64_t room = *connection.up_cap > connection.up_read ? *connection.up_cap - connection.up_read : 0;
      if (buffer.size() >= room) {
        buffer.resize(room);
        connection.cut = true;
      }
    }
    if (upstream) connection.up_read += buffer.size();
    if (!buffer.empty()) {
      flow.queued += buffer.size();
      flow.queue.push_back({.due = Clock::now() + controls.delay, .data = std::move(buffer), .sent = 0});
    }
    return true;
  };
  // Writes what is due of `flow` to `to`; false when the connection broke.
  const auto write_from = [&](int to, Flow& flow, std::atomic<uint64_t>& counter) {
    while (flow.Due(Clock::now())) {
      Chunk& chunk = flow.queue.front();
      const ssize_t put = send(to, chunk.data.data() + chunk.sent, chunk.data.size() - chunk.sent, MSG_NOSIGNAL);
      if (put < 0) return errno == EAGAIN || errno == EINTR;
      chunk.sent += static_cast<size_t>(put);
      counter += static_cast<uint64_t>(put);
      if (chunk.sent < chunk.data.size()) return true;
      flow.queued -= chunk.data.size();
      flow.queue.pop_front();
    }
    if (flow.Drained() && flow.source_closed && !flow.shut) {
      shutdown(to, SHUT_WR);
      flow.shut = true;
    }
    return true;
  };

  // What a control asks of the open connections, done right after each poll: a connection
  // accepted after a change already gets it.
  const auto apply = [&](const Controls& controls) {
    if (controls.resets_requested != resets_handled) {
      for (auto& connection : connections) {
        if (connection->dead) continue;
        reset(*connection);
        ++resets_;
      }
      resets_handled = controls.resets_requested;
      std::lock_guard lock(mutex_);
      resets_done_ = resets_handled;
      reset_done_.notify_all();
    }
    if (controls.limit_generation != limit_generation) {
      for (auto& connection : connections) {
        connection->up_cap =
            controls.upstream_limit ? std::optional(connection->up_read + *controls.upstream_limit) : std::nullopt;
      }
      limit_generation = controls.limit_generation;
    }
  };

  std::vector<pollfd> fds;
  for (;;) {
    std::erase_if(connections, [](const auto& connection) { return connection->dead; });
    const Clock::time_point now = Clock::now();
    auto wait = kLongestPoll;
    fds.assign({{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (const auto& connection : connections) {
      for (const Flow* flow : {&connection->up, &connection->down}) {
        if (!flow->queue.empty() && flow->queue.front().due > now) {
          wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(flow->queue.front().due - now));
        }
      }
      const auto events = [&](const Flow& in, const Flow& out) {
        short wanted = 0;
        if (!in.source_closed && in.queued < kMaxQueuedBytes && !connection->cut) wanted |= POLLIN;
        if (out.Due(now)) wanted |= POLLOUT;
        return wanted;
      };
      fds.push_back({connection->client, events(connection->up, connection->down), 0});
      fds.push_back({connection->target, events(connection->down, connection->up), 0});
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(wait.count())) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {
      uint64_t value = 0;
      (void)!read(wake_fd_, &value, sizeof(value));
    }
    const Controls controls = ReadControls();
    if (controls.stopping) break;
    apply(controls);
    if (fds[1].revents != 0) {
      for (int client; (client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
        // Read again for each: a connection accepted after a control changed must see the change.
        const Controls now_controls = ReadControls();
        if (now_controls.refuse_new) {
          CloseWithReset(client);
          ++resets_;
          continue;
        }
        const int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = target_host_;
        address.sin_port = target_port_;
        // Loopback: the connect is answered at once. A target that is down resets the client, as
        // a connection refused would look to it.
        if (target < 0 || connect(target, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
          if (target >= 0) close(target);
          CloseWithReset(client);
          continue;
        }
        Prepare(client);
        Prepare(target);
        auto connection = std::make_unique<Connection>();
        connection->client = client;
        connection->target = target;
        connection->up_cap = now_controls.upstream_limit;
        connections.push_back(std::move(connection));
        ++connections_;
      }
    }
    // The connections polled: those accepted just now come next round.
    for (size_t i = 0; 2 + 2 * i + 1 < fds.size(); ++i) {
      Connection& connection = *connections[i];
      if (connection.dead) continue;
      const short client_events = fds[2 + 2 * i].revents, target_events = fds[2 + 2 * i + 1].revents;
      bool ok = true;
      if (client_events & (POLLIN | POLLHUP | POLLERR)) {
        ok = read_into(connection, connection.client, connection.up, true, controls);
      }
      if (ok && (target_events & (POLLIN | POLLHUP | POLLERR))) {
        ok = read_into(connection, connection.target, connection.down, false, controls);
      }
      if (ok) ok = write_from(connection.target, connection.up, upstream_bytes_);
      if (ok) ok = write_from(connection.client, connection.down, downstream_bytes_);
      if (ok && connection.cut && connection.up.Drained()) {
        ++resets_;
        ok = false;
      }
      if (!ok) {
        reset(connection);  // a break on one side is passed on to the other as one
      } else if (connection.up.shut && connection.down.shut) {
        close(connection.client);
        close(connection.target);
        connection.client = connection.target = -1;
        connection.dead = true;
      }
    }
  }
  for (auto& connection : connections) {
    if (!connection->dead) reset(*connection);
  }
}

}  // namespace gradients::testing
