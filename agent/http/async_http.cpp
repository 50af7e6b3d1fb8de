#include "agent/http/async_http.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "agent/http/transfer.h"

namespace mpa {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The longest the thread sleeps in curl_multi_poll; new work and timers
// wake it earlier.
constexpr std::chrono::milliseconds kMaxPollWait{1000};

struct Pending {
  HttpRequest request;
  AsyncHttp::Done done;
};

struct Running {
  std::unique_ptr<Transfer> transfer;
  AsyncHttp::Done done;
};

Error stopping_error(const std::string& url) {
  return make_error(ErrorCode::unavailable, "cannot reach " + url + ": the agent is stopping");
}

// CURLM, like CURL, is a typedef of void: no Handle<T> of its own.
class MultiHandle {
 public:
  MultiHandle() : multi_(curl_multi_init()) {}
  ~MultiHandle() {
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }
  MultiHandle(const MultiHandle&) = delete;
  MultiHandle& operator=(const MultiHandle&) = delete;
  CURLM* get() const { return multi_; }

 private:
  CURLM* multi_;
};

}  // namespace

struct AsyncHttp::Impl {
  std::shared_ptr<const TrustStore> trust;
  MultiHandle multi;

  std::mutex mutex;  // guards the three below; never held across a callback
  std::deque<Pending> incoming;
  std::multimap<SteadyClock::time_point, std::function<void()>> timers;
  bool stopping = false;

  // The HTTP thread's own.
  std::unordered_map<CURL*, Running> running;
  std::deque<Pending> waiting;  // beyond kMaxTransfersInFlight

  std::atomic<std::size_t> in_flight{0}, queued{0}, timer_count{0};
  std::thread thread;

  void submit(HttpRequest request, Done done) {
    {
      std::lock_guard lock(mutex);
      if (!stopping) {
        incoming.push_back(Pending{std::move(request), std::move(done)});
        queued.fetch_add(1);
        done = nullptr;
      }
    }
    if (done) {
      done(stopping_error(request.url));
      return;
    }
    curl_multi_wakeup(multi.get());
  }

  void loop(const std::shared_ptr<Impl>& self);

 private:
  // Takes new requests and due timers; false once stopping.
  bool take(std::vector<std::function<void()>>& due, SteadyClock::time_point now);
  void start_waiting();
  void collect_finished();
  std::chrono::milliseconds poll_wait(SteadyClock::time_point now);
  void fail_everything();
};

bool AsyncHttp::Impl::take(std::vector<std::function<void()>>& due, SteadyClock::time_point now) {
  std::lock_guard lock(mutex);
  if (stopping) return false;
  for (Pending& pending : incoming) waiting.push_back(std::move(pending));
  incoming.clear();
  while (!timers.empty() && timers.begin()->first <= now) {
    due.push_back(std::move(timers.begin()->second));
    timers.erase(timers.begin());
  }
  timer_count.store(timers.size());
  return true;
}

void AsyncHttp::Impl::start_waiting() {
  while (running.size() < kMaxTransfersInFlight && !waiting.empty()) {
    Pending pending = std::move(waiting.front());
    waiting.pop_front();
    queued.fetch_sub(1);
    auto transfer = Transfer::make(std::move(pending.request), trust);
    if (!transfer) {
      pending.done(std::move(transfer).error());
      continue;
    }
    CURL* handle = (*transfer)->handle();
    if (const CURLMcode code = curl_multi_add_handle(multi.get(), handle); code != CURLM_OK) {
      pending.done(make_error(ErrorCode::internal, std::string("libcurl refused a transfer: ") +
                                                       curl_multi_strerror(code)));
      continue;
    }
    running.emplace(handle, Running{std::move(*transfer), std::move(pending.done)});
  }
  in_flight.store(running.size());
}

void AsyncHttp::Impl::collect_finished() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi.get(), &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    const auto it = running.find(message->easy_handle);
    if (it == running.end()) continue;
    curl_multi_remove_handle(multi.get(), message->easy_handle);
    Running finished = std::move(it->second);
    running.erase(it);
    in_flight.store(running.size());
    finished.done(finished.transfer->finish(message->data.result));
  }
}

std::chrono::milliseconds AsyncHttp::Impl::poll_wait(SteadyClock::time_point now) {
  std::lock_guard lock(mutex);
  if (!incoming.empty() || stopping) return std::chrono::milliseconds(0);
  if (timers.empty()) return kMaxPollWait;
  const auto until = std::chrono::ceil<std::chrono::milliseconds>(timers.begin()->first - now);
  return std::clamp(until, std::chrono::milliseconds(0), kMaxPollWait);
}

void AsyncHttp::Impl::fail_everything() {
  for (auto& [handle, run] : running) {
    curl_multi_remove_handle(multi.get(), handle);
    run.done(stopping_error(""));
  }
  running.clear();
  std::deque<Pending> rest;
  {
    std::lock_guard lock(mutex);
    rest.swap(incoming);
    timers.clear();
  }
  for (Pending& pending : waiting) rest.push_back(std::move(pending));
  waiting.clear();
  for (Pending& pending : rest) pending.done(stopping_error(pending.request.url));
  in_flight.store(0);
  queued.store(0);
  timer_count.store(0);
}

void AsyncHttp::Impl::loop(const std::shared_ptr<Impl>& self) {
  (void)self;  // keeps this alive while the thread runs, also once detached
  for (;;) {
    std::vector<std::function<void()>> due;
    if (!take(due, SteadyClock::now())) break;
    start_waiting();
    for (auto& job : due) job();
    int still_running = 0;
    curl_multi_perform(multi.get(), &still_running);
    collect_finished();
    start_waiting();
    const int wait = static_cast<int>(poll_wait(SteadyClock::now()).count());
    curl_multi_poll(multi.get(), nullptr, 0, wait, nullptr);
  }
  fail_everything();
}

Result<std::shared_ptr<AsyncHttp>> AsyncHttp::create(const std::optional<std::string>& ca_file) {
  MPA_RETURN_IF_ERROR(init_curl_once());
  auto impl = std::make_shared<Impl>();
  MPA_ASSIGN_OR_RETURN(impl->trust, TrustStore::load(ca_file));
  if (impl->multi.get() == nullptr) return make_error(ErrorCode::internal, "libcurl could not make a multi handle");
  curl_multi_setopt(impl->multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(kMaxTransfersInFlight));
  curl_multi_setopt(impl->multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  impl->thread = std::thread([impl] { impl->loop(impl); });
  return std::shared_ptr<AsyncHttp>(new AsyncHttp(std::move(impl)));
}

AsyncHttp::~AsyncHttp() { shutdown(); }

void AsyncHttp::shutdown() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi.get());
  if (!impl_->thread.joinable()) return;
  if (impl_->thread.get_id() == std::this_thread::get_id()) {
    impl_->thread.detach();  // called from a callback: the loop ends on its own
  } else {
    impl_->thread.join();
  }
}

void AsyncHttp::post_form(const std::string& url, const std::string& form_body,
                          const HttpOptions& options, Done done) {
  if (options.ca_file != impl_->trust->ca_file()) {
    done(make_error(ErrorCode::internal, "a request for another ca_file on this connection pool"));
    return;
  }
  impl_->submit(form_post_request(url, form_body, options), std::move(done));
}

void AsyncHttp::get(const std::string& url, const std::vector<std::string>& headers,
                    const HttpOptions& options, Done done) {
  if (options.ca_file != impl_->trust->ca_file()) {
    done(make_error(ErrorCode::internal, "a request for another ca_file on this connection pool"));
    return;
  }
  impl_->submit(get_request(url, headers, options), std::move(done));
}

void AsyncHttp::after(std::chrono::milliseconds delay, std::function<void()> job) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->timers.emplace(SteadyClock::now() + delay, std::move(job));
  }
  curl_multi_wakeup(impl_->multi.get());
}

AsyncHttp::Stats AsyncHttp::stats() const {
  return Stats{impl_->in_flight.load(), impl_->queued.load(), impl_->timer_count.load()};
}

}  // namespace mpa
