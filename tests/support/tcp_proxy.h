// A TCP proxy on loopback for fault tests: each connection made to it is forwarded to a target
// address, both ways, by one thread of its own, and faults can be switched on and off while it
// runs (a misbehaving network between a client and a server, as a fault-injecting Env is a
// misbehaving disk). "Reset" always means an RST to both peers (SO_LINGER 0), which each sees
// as a broken connection (ECONNRESET), never as an orderly end.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace gradients::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port the kernel picks) and forwards every connection to
  // `target` ("a.b.c.d:port"). Throws std::runtime_error when it cannot listen.
  explicit TcpProxy(const std::string& target, int port = 0);
  // Resets every open connection and stops the thread.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The faults. Every control is thread-safe and takes effect at once, on open connections too.
  // Each chunk read from either side is held this long before it is passed on (0: none).
  void SetDelay(std::chrono::milliseconds delay);
  // Truncation: a connection is reset once `bytes` more have gone upstream (client to target) through
  // it, counted from this call for open connections and from their start for later ones: the target
  // gets those bytes and then the reset. nullopt lifts it.
  void SetUpstreamLimit(std::optional<uint64_t> bytes);
  // While set, new connections are reset as soon as they are accepted (the port stays bound).
  void SetRefuseNew(bool refuse);
  // Resets every open connection; returns once that is done.
  void ResetAll();

  // Counts since the start.
  uint64_t upstream_bytes() const { return upstream_bytes_; }      // passed on, client to target
  uint64_t downstream_bytes() const { return downstream_bytes_; }  // passed on, target to client
  int64_t connections() const { return connections_; }             // accepted and connected to the target
  int64_t resets() const { return resets_; }                       // connections a fault reset (refusals too)

 private:
  struct Chunk;
  struct Flow;
  struct Connection;
  struct Controls {
    std::chrono::milliseconds delay{0};
    std::optional<uint64_t> upstream_limit;
    uint64_t limit_generation = 0;  // bumped by each SetUpstreamLimit
    bool refuse_new = false;
    uint64_t resets_requested = 0;  // bumped by each ResetAll
    bool stopping = false;
  };

  void Run();
  void Wake();
  Controls ReadControls();

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: a control changed
  int port_ = 0;
  uint32_t target_host_ = 0;  // network order
  uint16_t target_port_ = 0;  // network order

  std::mutex mutex_;  // guards controls_ and resets_done_
  std::condition_variable reset_done_;
  Controls controls_;
  uint64_t resets_done_ = 0;

  std::atomic<uint64_t> upstream_bytes_{0}, downstream_bytes_{0};
  std::atomic<int64_t> connections_{0}, resets_{0};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace gradients::testing
