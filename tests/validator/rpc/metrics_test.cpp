#include "validator/rpc/metrics_server.h"

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "tests/validator/http_get.h"

namespace gradients::validator {
namespace {

TEST(Metrics, CountersAndGaugesRenderInPrometheusTextFormat) {
  Metrics metrics;
  metrics.Add("gradients_things_total", "Things", 2, "kind=\"a\"");
  metrics.Add("gradients_things_total", "Things", 1, "kind=\"a\"");
  metrics.Add("gradients_things_total", "Things", 5, "kind=\"b\"");
  metrics.Gauge("gradients_level", "A level", [] { return std::map<std::string, double>{{"", 0.5}}; });
  EXPECT_EQ(metrics.Render(),
            "# HELP gradients_level A level\n# TYPE gradients_level gauge\ngradients_level 0.5\n"
            "# HELP gradients_things_total Things\n# TYPE gradients_things_total counter\n"
            "gradients_things_total{kind=\"a\"} 3\ngradients_things_total{kind=\"b\"} 5\n");
}

TEST(Metrics, TheServerAnswersMetricsHealthAndNothingElse) {
  Metrics metrics;
  metrics.Add("gradients_up_total", "Ups", 1);
  std::atomic<bool> healthy{true};
  common::Result<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", metrics, [&] { return healthy.load(); });
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  HttpAnswer answer = HttpGet(port, "/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_NE(answer.body.find("gradients_up_total 1\n"), std::string::npos) << answer.body;
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  healthy = false;
  EXPECT_EQ(HttpGet(port, "/healthz").status, 503);
  EXPECT_EQ(HttpGet(port, "/state.db").status, 404);
  // Clients that connect and say nothing do not keep the server from answering others.
  healthy = true;
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> silent;
  for (int i = 0; i < 40; ++i) {
    silent.emplace_back(io);
    boost::beast::error_code error;
    silent.back().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, error);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  silent.clear();
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  server->reset();  // stops cleanly
}

TEST(Metrics, AnAddressItCannotListenOnIsAnErrorNamingIt) {
  Metrics metrics;
  EXPECT_EQ(MetricsServer::Start("no-port", metrics, [] { return true; }).status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("256.1.1.1:0", metrics, [] { return true; }).status().code(),
            common::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gradients::validator
