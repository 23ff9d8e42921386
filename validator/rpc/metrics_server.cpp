#include "validator/rpc/metrics_server.h"

#include <atomic>
#include <chrono>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/logging.h"

namespace gradients::validator {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct MetricsServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  const Metrics* metrics = nullptr;
  std::function<bool()> healthy;
  std::atomic<int> sessions{0};
};

namespace {

constexpr size_t kMaxRequestBytes = 8192;
// A connection gets this long to send its request and read the answer; beyond this many at once,
// new ones are closed. A client that connects and says nothing costs a descriptor for seconds only.
constexpr auto kSessionTimeout = std::chrono::seconds(10);
constexpr int kMaxSessions = 32;

// Reads one request, answers it and closes the connection.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Metrics& metrics, const std::function<bool()>& healthy,
          std::atomic<int>& sessions)
      : stream_(std::move(socket)), metrics_(metrics), healthy_(healthy), sessions_(sessions) {
    parser_.body_limit(kMaxRequestBytes);
    parser_.header_limit(kMaxRequestBytes);
    ++sessions_;
  }
  ~Session() { --sessions_; }
  void Run() {
    stream_.expires_after(kSessionTimeout);  // covers the read and the write
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](boost::beast::error_code error, size_t) { self->Answer(error); });
  }

 private:
  void Answer(boost::beast::error_code error) {
    if (error) return;
    const auto& request = parser_.get();
    response_.version(request.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "gradients-validator");
    const std::string target(request.target());
    if (request.method() != http::verb::get) {
      response_.result(http::status::method_not_allowed);
      response_.body() = "GET only\n";
    } else if (target == "/metrics") {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4");
      response_.body() = metrics_.Render();
    } else if (target == "/healthz") {
      const bool healthy = healthy_();
      response_.result(healthy ? http::status::ok : http::status::service_unavailable);
      response_.body() = healthy ? "ok\n" : "unavailable\n";
    } else {
      response_.result(http::status::not_found);
      response_.body() = "not found: /metrics and /healthz are served\n";
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](boost::beast::error_code, size_t) {
      boost::beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  const Metrics& metrics_;
  const std::function<bool()>& healthy_;
  std::atomic<int>& sessions_;
};

}  // namespace

void MetricsServer::Accept(State& state) {
  state.acceptor.async_accept([&state](boost::beast::error_code error, tcp::socket socket) {
    if (error == asio::error::operation_aborted) return;  // closed: the server stops
    if (error) {
      // Out of descriptors, say: try again shortly rather than spin or give up for good.
      state.retry.expires_after(std::chrono::milliseconds(100));
      state.retry.async_wait([&state](boost::beast::error_code waited) {
        if (!waited) Accept(state);
      });
      return;
    }
    if (state.sessions < kMaxSessions) {
      std::make_shared<Session>(std::move(socket), *state.metrics, state.healthy, state.sessions)->Run();
    }  // else the socket closes here
    Accept(state);
  });
}

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

common::Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen, const Metrics& metrics,
                                                            std::function<bool()> healthy) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return common::Status::InvalidArgument("metrics.listen: expected host:port");
  auto state = std::make_unique<State>();
  state->metrics = &metrics;
  state->healthy = std::move(healthy);
  boost::beast::error_code error;
  const std::string host = listen.substr(0, colon);
  const asio::ip::address address =
      asio::ip::make_address(host == "localhost" ? "127.0.0.1" : (host.empty() ? "0.0.0.0" : host), error);
  if (error) return common::Status::InvalidArgument("metrics.listen: " + host + ": " + error.message());
  const unsigned long port = std::strtoul(listen.c_str() + colon + 1, nullptr, 10);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  state->acceptor.open(endpoint.protocol(), error);
  if (!error) state->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) state->acceptor.bind(endpoint, error);
  if (!error) state->acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) return common::Status::Unavailable("metrics.listen: cannot listen on " + listen + ": " + error.message());
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(state)));
  server->port_ = server->state_->acceptor.local_endpoint().port();
  Accept(*server->state_);
  server->thread_ = std::thread([raw = server.get()] { raw->state_->io.run(); });
  return server;
}

MetricsServer::~MetricsServer() {
  state_->io.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace gradients::validator
