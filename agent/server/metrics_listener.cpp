#include "agent/server/metrics_listener.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <exception>
#include <optional>
#include <utility>

#include "common/log.h"

namespace mpa {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// The handlers queued in `io` point here by plain pointer: `io` is
// destroyed last, and with it every session still queued.
struct MetricsListener::Shared {
  explicit Shared(Render render_with, MetricsListenerOptions options_with)
      : acceptor(io), render(std::move(render_with)), options(options_with) {}
  std::size_t connections() const { return static_cast<std::size_t>(sessions.use_count() - 1); }

  boost::asio::io_context io;
  tcp::acceptor acceptor;
  Render render;
  MetricsListenerOptions options;
  std::shared_ptr<int> sessions = std::make_shared<int>(0);  // each session holds a copy
};

namespace {

constexpr const char* kOpenMetricsType = "application/openmetrics-text; version=1.0.0; charset=utf-8";
constexpr std::string_view kMetricsPath = "/metrics";

http::response<http::string_body> answer(const http::request<http::empty_body>& request,
                                         const MetricsListener::Render& render) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != kMetricsPath) {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "only /metrics is served here\n";
  } else if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "/metrics takes GET\n";
  } else {
    response.result(http::status::ok);
    response.set(http::field::content_type, kOpenMetricsType);
    response.body() = render();
  }
  response.prepare_payload();
  return response;
}

// One scraper's connection: requests answered one after another until it
// closes, sends something that is not a bounded request, or idles.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, MetricsListener::Shared& shared)
      : stream_(std::move(socket)), shared_(&shared), counted_(shared.sessions) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(kMaxMetricsRequestBytes));
    parser_->body_limit(0);
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (!error) self->write_answer();
                     });
  }

 private:
  void write_answer() {
    try {
      response_ = answer(parser_->get(), shared_->render);
    } catch (const std::exception& e) {
      log::error(std::string("bug: could not render the metrics: ") + e.what());
      return;  // closes the connection
    }
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        // What is left in buffer_ is the start of the next request.
                        if (error || !self->response_.keep_alive()) return;
                        self->read_request();
                      });
  }

  beast::tcp_stream stream_;
  MetricsListener::Shared* shared_;
  std::shared_ptr<int> counted_;  // in Shared::connections()
  beast::flat_buffer buffer_{kMaxMetricsRequestBytes};
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
};

void accept_next(MetricsListener::Shared* shared) {
  shared->acceptor.async_accept([shared](beast::error_code error, tcp::socket socket) {
    if (error == boost::asio::error::operation_aborted) return;
    if (!error) {
      if (shared->connections() < shared->options.max_connections) {
        std::make_shared<Session>(std::move(socket), *shared)->read_request();
      }  // else the socket closes here: too many scrapers at once
    }
    accept_next(shared);
  });
}

Status bind(tcp::acceptor& acceptor, const MetricsListen& where) {
  beast::error_code error;
  const auto address = boost::asio::ip::make_address(where.address, error);
  if (error) return make_error(ErrorCode::invalid_config, "[metrics] listen: bad address " + where.address);
  const tcp::endpoint endpoint(address, where.port);
  const std::string named = "[metrics] listen: " + where.address + ":" + std::to_string(where.port);
  if (acceptor.open(endpoint.protocol(), error); error) {
    return make_error(ErrorCode::invalid_config, named + ": " + error.message());
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (acceptor.bind(endpoint, error); error) {
    return make_error(ErrorCode::invalid_config, named + ": cannot bind: " + error.message());
  }
  if (acceptor.listen(boost::asio::socket_base::max_listen_connections, error); error) {
    return make_error(ErrorCode::invalid_config, named + ": cannot listen: " + error.message());
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(const MetricsListen& where,
                                                                Render render,
                                                                MetricsListenerOptions options) {
  std::unique_ptr<MetricsListener> listener(new MetricsListener());
  listener->shared_ = std::make_unique<Shared>(std::move(render), options);
  MPA_RETURN_IF_ERROR(bind(listener->shared_->acceptor, where));
  listener->port_ = listener->shared_->acceptor.local_endpoint().port();
  accept_next(listener->shared_.get());
  listener->thread_ = std::thread([shared = listener->shared_.get()] { shared->io.run(); });
  return listener;
}

MetricsListener::~MetricsListener() {
  if (!shared_) return;
  shared_->io.stop();
  if (thread_.joinable()) thread_.join();
  // The handlers still queued own the sessions; they go with shared_->io.
}

}  // namespace mpa
