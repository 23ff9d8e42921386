// A plain HTTP GET on loopback, for the tests of the validator's metrics server.
#pragma once

#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace gradients::validator {

struct HttpAnswer {
  int status = 0;  // 0 when the request failed
  std::string body;
};

inline HttpAnswer HttpGet(int port, const std::string& target) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::beast::error_code error;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, error);
  if (error) return {};
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, error);
  if (error) return {};
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, error);
  if (error) return {};
  return {.status = static_cast<int>(response.result_int()), .body = response.body()};
}

}  // namespace gradients::validator
