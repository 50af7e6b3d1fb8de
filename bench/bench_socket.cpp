// Load generator for the agent's socket, and the bare baseline it is
// compared with: a single-threaded epoll JSON-lines echo server.
//
//   bench_socket echo SOCKET [REPLY]              serve until killed: answer each
//        line with REPLY (default: the line itself)
//   bench_socket load SOCKET CONNECTIONS SECONDS REQUEST_LINE
//        closed loop: each connection sends REQUEST_LINE, waits for one
//        response line, and repeats; prints
//        "connections=N requests=R rate=X/s p50_us=A p99_us=B errors=E"
//   bench_socket distinct SOCKET CONNECTIONS SECONDS REQUEST_PREFIX FIRST_ORG
//        the same closed loop, but every request asks for a token not
//        asked for before (so each needs a new signature): its
//        "consumer_org" counts up from FIRST_ORG (9 digits); REQUEST_PREFIX
//        is a JSON object text without its closing brace
//   bench_socket fill SOCKET COUNT REQUEST_PREFIX
//        sends COUNT token requests that differ in their "resource" (so
//        each makes its own cache entry): REQUEST_PREFIX is a JSON object
//        text without its closing brace
//   bench_socket wait SOCKET SECONDS
//        prints the milliseconds until a ping is answered (start-up time)
//
// Both servers are driven by the same generator in the same run, so the
// ratio between them does not depend on how busy the machine is.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one line (without '\n') into `line`, keeping any surplus in `buffer`.
bool read_line(int fd, std::string& buffer, std::string& line) {
  for (;;) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line.assign(buffer, 0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    char chunk[8192];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

int echo_server(const std::string& path, const std::string& reply) {
  ::unlink(path.c_str());
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1024) != 0) {
    std::perror("echo: bind/listen");
    return 1;
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::map<int, std::string> buffers;
  std::vector<epoll_event> events(256);
  for (;;) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == listener) {
        int c;
        while ((c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          buffers[c];
        }
        continue;
      }
      char chunk[8192];
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        ::close(fd);
        buffers.erase(fd);
        continue;
      }
      std::string& buffer = buffers[fd];
      buffer.append(chunk, static_cast<std::size_t>(got));
      std::size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        // Blocking-free enough for a closed loop: one small line at a time.
        write_all(fd, reply.empty() ? buffer.substr(0, nl + 1) : reply + "\n");
        buffer.erase(0, nl + 1);
      }
    }
  }
}

// `next_line()` gives each request's line (with its '\n').
template <class NextLine>
int load(const std::string& path, int connections, double seconds, NextLine next_line) {
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::mutex mutex;
  std::vector<std::uint32_t> latencies_us;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      std::vector<std::uint32_t> mine;
      int fd = connect_to(path);
      if (fd < 0) {
        ++errors;
        return;
      }
      std::string buffer, response;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        if (!write_all(fd, next_line()) || !read_line(fd, buffer, response)) {
          ++errors;
          break;
        }
        if (response.find("\"ok\":false") != std::string::npos) ++errors;
        mine.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      }
      ::close(fd);
      std::lock_guard lock(mutex);
      latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) -> std::uint32_t {
    if (latencies_us.empty()) return 0;
    return latencies_us[static_cast<std::size_t>(p * static_cast<double>(latencies_us.size() - 1))];
  };
  std::printf("connections=%d requests=%zu rate=%.0f/s p50_us=%u p99_us=%u errors=%ld\n",
              connections, latencies_us.size(), static_cast<double>(latencies_us.size()) / elapsed,
              pct(0.50), pct(0.99), errors.load());
  return errors.load() == 0 ? 0 : 1;
}

int load_same(const std::string& path, int connections, double seconds, const std::string& request) {
  const std::string line = request + "\n";
  return load(path, connections, seconds, [&line]() -> const std::string& { return line; });
}

// Every request a token nobody asked for before: the next 9-digit
// consumer_org from `first_org` on.
int load_distinct(const std::string& path, int connections, double seconds,
                  const std::string& prefix, long first_org) {
  std::atomic<long> next{first_org};
  return load(path, connections, seconds, [&] {
    char org[32];
    std::snprintf(org, sizeof org, "%09ld", next.fetch_add(1) % 1000000000);
    return prefix + ",\"consumer_org\":\"" + org + "\"}\n";
  });
}

int fill(const std::string& path, int count, const std::string& prefix) {
  int fd = connect_to(path);
  if (fd < 0) {
    std::perror("fill: connect");
    return 1;
  }
  std::string buffer, response;
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    const std::string line =
        prefix + ",\"resource\":[\"https://bench.example/" + std::to_string(i) + "\"]}\n";
    if (!write_all(fd, line) || !read_line(fd, buffer, response)) return 1;
    if (response.find("\"ok\":true") == std::string::npos) {
      if (++failed == 1) std::fprintf(stderr, "fill: %s\n", response.c_str());
    }
  }
  ::close(fd);
  std::printf("filled=%d failed=%d\n", count - failed, failed);
  return failed == 0 ? 0 : 1;
}

int wait_ready(const std::string& path, double seconds) {
  const auto start = Clock::now();
  std::string buffer, response;
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    int fd = connect_to(path);
    if (fd >= 0) {
      const bool answered = write_all(fd, "{\"op\":\"ping\"}\n") && read_line(fd, buffer, response);
      ::close(fd);
      if (answered) {
        std::printf("%.1f\n",
                    std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::fprintf(stderr, "wait: no answer on %s\n", path.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if ((a.size() == 2 || a.size() == 3) && a[0] == "echo") return echo_server(a[1], a.size() == 3 ? a[2] : "");
  if (a.size() == 5 && a[0] == "load") return load_same(a[1], std::atoi(a[2].c_str()), std::atof(a[3].c_str()), a[4]);
  if (a.size() == 6 && a[0] == "distinct") {
    return load_distinct(a[1], std::atoi(a[2].c_str()), std::atof(a[3].c_str()), a[4], std::atol(a[5].c_str()));
  }
  if (a.size() == 4 && a[0] == "fill") return fill(a[1], std::atoi(a[2].c_str()), a[3]);
  if (a.size() == 3 && a[0] == "wait") return wait_ready(a[1], std::atof(a[2].c_str()));
  std::fprintf(stderr,
               "usage: bench_socket echo SOCKET [REPLY] | load SOCKET CONNECTIONS SECONDS REQUEST |\n"
               "       distinct SOCKET CONNECTIONS SECONDS REQUEST_PREFIX FIRST_ORG |\n"
               "       fill SOCKET COUNT REQUEST_PREFIX | wait SOCKET SECONDS\n");
  return 2;
}
