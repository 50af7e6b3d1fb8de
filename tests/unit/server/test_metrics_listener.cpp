// The [metrics] HTTP listener: OpenMetrics on GET /metrics, and every
// other request, oversize or idle connection refused or closed.
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <string>

#include "support/test_support.h"
#include "agent/server/metrics_listener.h"

using namespace mpa;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using mpa::test::contains;

namespace {

// A listener on a free loopback port that serves `text`, counting renders.
struct Listening {
  std::atomic<int> renders{0};
  std::unique_ptr<MetricsListener> listener;

  explicit Listening(MetricsListenerOptions options = {}) {
    auto made = MetricsListener::start(
        MetricsListen{"127.0.0.1", 0},
        [this] {
          ++renders;
          return std::string("# TYPE up gauge\n# HELP up up\nup 1.0\n# EOF\n");
        },
        options);
    BOOST_TEST_REQUIRE(made.ok(), (made.ok() ? "" : made.error().message));
    listener = std::move(*made);
  }
};

struct Scraper {
  boost::asio::io_context io;
  tcp::socket socket{io};

  explicit Scraper(std::uint16_t port) {
    socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }

  void send(const std::string& bytes) { boost::asio::write(socket, boost::asio::buffer(bytes)); }

  http::response<http::string_body> answer() {
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    return response;
  }

  // True when the listener closed the connection (nothing more to read).
  bool closed_by_listener() {
    char byte = 0;
    boost::system::error_code error;
    boost::asio::read(socket, boost::asio::buffer(&byte, 1), error);
    return error == boost::asio::error::eof || error == boost::asio::error::connection_reset;
  }
};

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(listener)

BOOST_AUTO_TEST_CASE(ServesMetricsAsOpenMetrics) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send(get("/metrics"));
  const auto response = scraper.answer();
  BOOST_TEST(response.result_int() == 200);
  BOOST_TEST(std::string(response[http::field::content_type]) ==
             "application/openmetrics-text; version=1.0.0; charset=utf-8");
  BOOST_TEST(response.body() == "# TYPE up gauge\n# HELP up up\nup 1.0\n# EOF\n");
}

BOOST_AUTO_TEST_CASE(KeepsTheConnectionForTheNextScrape) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send(get("/metrics"));
  BOOST_TEST(scraper.answer().result_int() == 200);
  scraper.send(get("/metrics?x=1"));
  BOOST_TEST(scraper.answer().result_int() == 200);
  BOOST_TEST(listening.renders == 2);
}

BOOST_AUTO_TEST_CASE(OtherPathIsNotFound) {
  Listening listening;
  for (const char* target : {"/", "/metrics/", "/metricsx", "/status"}) {
    Scraper scraper(listening.listener->port());
    scraper.send(get(target));
    BOOST_TEST(scraper.answer().result_int() == 404, target);
  }
  BOOST_TEST(listening.renders == 0);
}

BOOST_AUTO_TEST_CASE(OtherMethodIsNotAllowed) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto response = scraper.answer();
  BOOST_TEST(response.result_int() == 405);
  BOOST_TEST(std::string(response[http::field::allow]) == "GET");
  BOOST_TEST(listening.renders == 0);
}

BOOST_AUTO_TEST_CASE(RequestWithABodyIsClosedUnanswered) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  BOOST_TEST(scraper.closed_by_listener());
  BOOST_TEST(listening.renders == 0);
}

BOOST_AUTO_TEST_CASE(OversizedHeadersAreClosedUnanswered) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " +
               std::string(kMaxMetricsRequestBytes, 'a') + "\r\n\r\n");
  BOOST_TEST(scraper.closed_by_listener());
  BOOST_TEST(listening.renders == 0);
}

BOOST_AUTO_TEST_CASE(NotHttpIsClosedUnanswered) {
  Listening listening;
  Scraper scraper(listening.listener->port());
  scraper.send("{\"op\":\"metrics\"}\n\r\n\r\n");
  BOOST_TEST(scraper.closed_by_listener());
}

BOOST_AUTO_TEST_CASE(IdleConnectionIsClosed) {
  MetricsListenerOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  Listening listening(options);
  Scraper scraper(listening.listener->port());
  BOOST_TEST(scraper.closed_by_listener());  // returns once the listener gives up on it
}

BOOST_AUTO_TEST_CASE(ConnectionsPastTheLimitAreClosed) {
  MetricsListenerOptions options;
  options.max_connections = 1;
  Listening listening(options);
  Scraper first(listening.listener->port());
  first.send(get("/metrics"));
  BOOST_TEST(first.answer().result_int() == 200);  // its session is open now
  Scraper second(listening.listener->port());
  BOOST_TEST(second.closed_by_listener());
  first.send(get("/metrics"));
  BOOST_TEST(first.answer().result_int() == 200);
}

BOOST_AUTO_TEST_CASE(StopsWithConnectionsOpen) {
  auto listening = std::make_unique<Listening>();
  Scraper scraper(listening->listener->port());
  scraper.send(get("/metrics"));
  BOOST_TEST(scraper.answer().result_int() == 200);
  listening.reset();  // must return, closing the connection
  BOOST_TEST(scraper.closed_by_listener());
}

BOOST_AUTO_TEST_CASE(BindFailureIsInWords) {
  Listening listening;
  auto again = MetricsListener::start(MetricsListen{"127.0.0.1", listening.listener->port()},
                                      [] { return std::string(); });
  BOOST_TEST_REQUIRE(!again.ok());
  BOOST_TEST(contains(again.error().message, "[metrics] listen: 127.0.0.1:"), again.error().message);
  BOOST_TEST(contains(again.error().message, "cannot bind"), again.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
