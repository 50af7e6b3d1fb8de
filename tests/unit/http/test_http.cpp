#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <curl/curl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/test_support.h"
#include "agent/http/async_http.h"
#include "agent/http/http.h"
#include "agent/http/transfer.h"
#include "agent/http/trust_store.h"

using namespace mpa;
namespace fs = std::filesystem;
using mpa::test::contains;
using mpa::test::why;

namespace {

// openssl s_server needs a moment to start on a busy machine.
constexpr auto kServerStartLimit = std::chrono::seconds(30);

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A socket bound to a free loopback port; listening if asked (a server
// that completes TCP handshakes but never answers).
struct LoopbackSocket {
  int fd = -1;
  int port = 0;

  explicit LoopbackSocket(bool listening) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    if (listening) BOOST_TEST_REQUIRE(::listen(fd, 8) == 0);
  }
  ~LoopbackSocket() { ::close(fd); }
};

// A port nobody listens on (free a moment ago).
int closed_port() { return LoopbackSocket(false).port; }

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// A throwaway PKI (test CA -> localhost certificate, and an unrelated CA)
// made with the openssl CLI, and `openssl s_server -HTTP` serving files
// that hold whole HTTP responses, for the whole run.
struct TlsServer {
  mpa::test::TempDir temp{"mpa-http-test"};
  fs::path dir = temp.path;
  pid_t pid = -1;
  int port = 0;

  TlsServer() {
    // The requests below must go straight to the loopback server.
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY",
                             "no_proxy", "NO_PROXY"}) {
      ::unsetenv(name);
    }
    make_pki();
    write_responses();
    start();
    instance = this;
  }
  ~TlsServer() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }

  void run(const std::string& command) {
    const std::string line = "cd '" + dir.string() + "' && " + command + " >>openssl.log 2>&1";
    BOOST_TEST_REQUIRE(std::system(line.c_str()) == 0, "failed: " << command);
  }

  void make_pki() {
    write_file(dir / "openssl.cnf",
               "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
               "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
               "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
               "[server_ext]\nbasicConstraints = CA:FALSE\n"
               "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
               "subjectAltName = DNS:localhost\n");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run("openssl req -x509 -config openssl.cnf -extensions ca_ext " + ec +
        " -keyout ca.key -out ca.pem -days 2 -subj '/CN=mpa test CA'");
    run("openssl req -x509 -config openssl.cnf -extensions ca_ext " + ec +
        " -keyout other.key -out other.pem -days 2 -subj '/CN=mpa unrelated CA'");
    run("openssl req -new -config openssl.cnf " + ec +
        " -keyout server.key -out server.csr -subj '/CN=localhost'");
    run("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out server.pem -days 2 -extfile openssl.cnf -extensions server_ext");
    write_file(dir / "not-a-ca.pem", "this is not a certificate\n");
  }

  void write_responses() {
    const std::string ok = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n";
    write_file(dir / "small", ok + "{\"ok\":true}");
    write_file(dir / "busy",
               "HTTP/1.0 429 Too Many Requests\r\nRetry-After: 7\r\n"
               "Content-Type: application/json\r\n\r\n{}");
    write_file(dir / "fits", ok + std::string(200 * 1024, 'x'));
    write_file(dir / "big", ok + std::string(300 * 1024, 'x'));
    write_file(dir / "big-declared", "HTTP/1.0 200 OK\r\nContent-Length: 307200\r\n\r\n" +
                                         std::string(300 * 1024, 'x'));
    write_file(dir / "long-header", "HTTP/1.0 503 Busy\r\nRetry-After: " +
                                        std::string(1000, '1') + "\r\n\r\n");
  }

  void start() {
    port = LoopbackSocket(false).port;
    pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(127);
      const int null = ::open("/dev/null", O_RDWR);
      const int log = ::open("s_server.log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      const std::string accept = "127.0.0.1:" + std::to_string(port);
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-HTTP", "-http_server_binmode",
               "-accept", accept.c_str(), "-cert", "server.pem", "-key", "server.key",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto limit = std::chrono::steady_clock::now() + kServerStartLimit;
    while (!accepts_connections(port)) {
      BOOST_TEST_REQUIRE(::waitpid(pid, nullptr, WNOHANG) == 0, "openssl s_server exited");
      BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < limit), "s_server did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::string url(const std::string& path) const {
    return "https://localhost:" + std::to_string(port) + "/" + path;
  }
  HttpOptions trusting() const {
    HttpOptions options;
    options.ca_file = (dir / "ca.pem").string();
    return options;
  }

  static TlsServer* instance;
};

TlsServer* TlsServer::instance = nullptr;

TlsServer& server() { return *TlsServer::instance; }

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(TlsServer);

BOOST_AUTO_TEST_SUITE(HttpTls)

BOOST_AUTO_TEST_CASE(RefusesServerOfAnUntrustedCa) {
  auto response = http_get(server().url("small"), {}, HttpOptions{});
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(response.error().message, "cannot reach " + server().url("small") + ": "),
             response.error().message);
  BOOST_TEST(contains(response.error().message, "certificate"), response.error().message);
}

BOOST_AUTO_TEST_CASE(AcceptsServerWhenCaFileTrustsIt) {
  auto response = http_get(server().url("small"), {}, server().trusting());
  BOOST_TEST_REQUIRE(response.ok(), why(response));
  BOOST_TEST(response->status == 200);
  BOOST_TEST(response->body == "{\"ok\":true}");
  BOOST_TEST(response->content_type.value_or("") == "application/json");
  BOOST_TEST(!response->retry_after.has_value());
}

BOOST_AUTO_TEST_CASE(CaFileOfAnotherCaDoesNotTrustTheServer) {
  HttpOptions options;
  options.ca_file = (server().dir / "other.pem").string();
  auto response = http_get(server().url("small"), {}, options);
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
}

BOOST_AUTO_TEST_CASE(RefusesNameNotInTheCertificate) {
  const std::string url = "https://127.0.0.1:" + std::to_string(server().port) + "/small";
  auto response = http_get(url, {}, server().trusting());
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(response.error().message, "127.0.0.1"), response.error().message);
}

// ca_file adds to the system's trust rather than replacing it. To show that
// without the Internet, a child process gets a private mount namespace in
// which the system bundle is our test CA, and asks with ca_file naming an
// unrelated CA. Needs CAP_SYS_ADMIN; skipped (with a message) without it.
BOOST_AUTO_TEST_CASE(CaFileKeepsTheSystemBundleTrusted) {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  BOOST_TEST_REQUIRE(info->cainfo != nullptr, "this libcurl has no default CA bundle");
  const fs::path bundle(info->cainfo);
  const fs::path fake = server().dir / "fake-system-certs";
  fs::create_directories(fake);
  fs::copy_file(server().dir / "ca.pem", fake / bundle.filename(),
                fs::copy_options::overwrite_existing);
  constexpr int kCannotIsolate = 77;
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount(fake.c_str(), bundle.parent_path().c_str(), nullptr, MS_BIND, nullptr) != 0) {
      ::_exit(kCannotIsolate);
    }
    HttpOptions options;
    options.ca_file = (server().dir / "other.pem").string();
    ::_exit(http_get(server().url("small"), {}, options).ok() ? 0 : 1);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kCannotIsolate) {
    BOOST_TEST_MESSAGE("skipped: no private mount namespace (needs CAP_SYS_ADMIN)");
    return;
  }
  BOOST_TEST(WEXITSTATUS(status) == 0, "the system bundle was not trusted beside ca_file");
}

BOOST_AUTO_TEST_CASE(MissingCaFileIsAConfigurationError) {
  HttpOptions options;
  options.ca_file = (server().dir / "absent.pem").string();
  auto response = http_get(server().url("small"), {}, options);
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::invalid_config);
  BOOST_TEST(contains(response.error().message, "absent.pem"), response.error().message);
}

BOOST_AUTO_TEST_CASE(CaFileWithoutCertificatesTrustsNothingNew) {
  HttpOptions options;
  options.ca_file = (server().dir / "not-a-ca.pem").string();
  auto response = http_get(server().url("small"), {}, options);
  BOOST_TEST(!response.ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(HttpResponses)

BOOST_AUTO_TEST_CASE(AnyHttpStatusIsAResponse) {
  auto response = http_get(server().url("busy"), {}, server().trusting());
  BOOST_TEST_REQUIRE(response.ok(), why(response));
  BOOST_TEST(response->status == 429);
  BOOST_TEST(response->retry_after.value_or("") == "7");
}

BOOST_AUTO_TEST_CASE(DropsAnOverlongRetryAfter) {
  auto response = http_get(server().url("long-header"), {}, server().trusting());
  BOOST_TEST_REQUIRE(response.ok(), why(response));
  BOOST_TEST(response->status == 503);
  BOOST_TEST(!response->retry_after.has_value());
}

BOOST_AUTO_TEST_CASE(ReadsABodyUnderTheCap) {
  auto response = http_get(server().url("fits"), {}, server().trusting());
  BOOST_TEST_REQUIRE(response.ok(), why(response));
  BOOST_TEST(response->body.size() == 200u * 1024u);
}

BOOST_AUTO_TEST_CASE(RefusesABodyOverTheCap) {
  auto response = http_get(server().url("big"), {}, server().trusting());
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(response.error().message, "response larger than 256 KiB"),
             response.error().message);
}

BOOST_AUTO_TEST_CASE(RefusesADeclaredLengthOverTheCap) {
  auto response = http_get(server().url("big-declared"), {}, server().trusting());
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(contains(response.error().message, "response larger than 256 KiB"),
             response.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(HttpFailures)

BOOST_AUTO_TEST_CASE(RefusesPlainHttpUrls) {
  auto response = http_get("http://localhost:" + std::to_string(server().port) + "/small", {},
                           server().trusting());
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::invalid_config);
  BOOST_TEST(contains(response.error().message, "only https:// URLs"), response.error().message);
}

BOOST_AUTO_TEST_CASE(RefusesNonHttpProxies) {
  HttpOptions options = server().trusting();
  options.proxy = "socks5://127.0.0.1:1080";
  auto response = http_get(server().url("small"), {}, options);
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::invalid_config);
}

BOOST_AUTO_TEST_CASE(GoesThroughTheConfiguredProxy) {
  HttpOptions options = server().trusting();
  const int proxy_port = closed_port();
  options.proxy = "http://127.0.0.1:" + std::to_string(proxy_port);
  auto response = http_get(server().url("small"), {}, options);
  BOOST_TEST_REQUIRE(!response.ok(), "the request did not use the proxy");
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
}

BOOST_AUTO_TEST_CASE(SilentServerTimesOut) {
  LoopbackSocket silent(true);
  HttpOptions options = server().trusting();
  options.timeout_seconds = 1;
  auto response =
      http_get("https://localhost:" + std::to_string(silent.port) + "/", {}, options);
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(response.error().message, "timed out"), response.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

// The multi loop the daemon's exchanges run on (agent/http/async_http.h).
BOOST_AUTO_TEST_SUITE(AsyncHttpLoop)

namespace {

// Answers collected from the HTTP thread.
struct Collected {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Result<HttpResponse>> answers;

  AsyncHttp::Done done() {
    return [this](Result<HttpResponse> r) {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(r));
      changed.notify_all();
    };
  }
  void wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return answers.size() >= n; });
  }
};

std::shared_ptr<AsyncHttp> make_async(const std::optional<std::string>& ca_file) {
  auto made = AsyncHttp::create(ca_file);
  BOOST_TEST_REQUIRE(made.ok(), why(made));
  return *made;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ClosedPortIsUnavailable) {
  const std::string url = "https://localhost:" + std::to_string(closed_port()) + "/token";
  auto http = make_async(server().trusting().ca_file);
  Collected collected;
  http->post_form(url, "a=b", server().trusting(), collected.done());
  collected.wait_for(1);
  const auto& response = collected.answers.front();
  BOOST_TEST_REQUIRE(!response.ok());
  BOOST_TEST(response.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(response.error().message, "cannot reach " + url + ": "),
             response.error().message);
}

BOOST_AUTO_TEST_CASE(ManyRequestsAtOnceAreAllAnswered) {
  auto http = make_async(server().trusting().ca_file);
  Collected collected;
  for (int i = 0; i < 8; ++i) http->get(server().url("small"), {}, server().trusting(), collected.done());
  collected.wait_for(8);
  for (const auto& answer : collected.answers) {
    BOOST_TEST_REQUIRE(answer.ok(), why(answer));
    BOOST_TEST(answer->status == 200);
    BOOST_TEST(answer->body == "{\"ok\":true}");
  }
}

BOOST_AUTO_TEST_CASE(AnUntrustedCertificateSaysSoAndWhereTrustComesFrom) {
  auto http = make_async(std::nullopt);
  Collected collected;
  http->get(server().url("small"), {}, HttpOptions{}, collected.done());
  collected.wait_for(1);
  const auto& answer = collected.answers.front();
  BOOST_TEST_REQUIRE(!answer.ok());
  BOOST_TEST(answer.error().code == ErrorCode::unavailable);
  BOOST_TEST((answer.error().reason == ErrorReason::tls_untrusted));
  BOOST_TEST(contains(answer.error().message, "a private CA needs ca_file"), answer.error().message);
}

BOOST_AUTO_TEST_CASE(ARequestForAnotherCaFileIsRefused) {
  auto http = make_async(std::nullopt);
  Collected collected;
  http->get(server().url("small"), {}, server().trusting(), collected.done());
  collected.wait_for(1);
  BOOST_TEST(!collected.answers.front().ok());
}

BOOST_AUTO_TEST_CASE(TimersRunTheirJobOnTheHttpThreadAfterTheWait) {
  auto http = make_async(std::nullopt);
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int> ran;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  http->after(std::chrono::milliseconds(60), [&] {
    std::lock_guard lock(mutex);
    waited = std::chrono::steady_clock::now() - start;
    ran.push_back(2);
    changed.notify_all();
  });
  http->after(std::chrono::milliseconds(0), [&] {
    std::lock_guard lock(mutex);
    ran.push_back(1);
    changed.notify_all();
  });
  std::unique_lock lock(mutex);
  changed.wait(lock, [&] { return ran.size() == 2; });
  BOOST_TEST(ran == (std::vector<int>{1, 2}));
  BOOST_TEST((waited >= std::chrono::milliseconds(60)));
}

BOOST_AUTO_TEST_CASE(StoppingAnswersWhatIsStillPending) {
  LoopbackSocket silent(true);
  auto http = make_async(server().trusting().ca_file);
  Collected collected;
  http->get("https://localhost:" + std::to_string(silent.port) + "/", {}, server().trusting(),
            collected.done());
  http.reset();
  collected.wait_for(1);
  BOOST_TEST_REQUIRE(!collected.answers.front().ok());
  BOOST_TEST(contains(collected.answers.front().error().message, "the agent is stopping"),
             collected.answers.front().error().message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(FormEncode)

BOOST_AUTO_TEST_CASE(JoinsFieldsWithAmpersand) {
  BOOST_TEST(form_encode({{"a", "b"}, {"c", "d"}}) == "a=b&c=d");
}

BOOST_AUTO_TEST_CASE(LeavesUnreservedCharacters) {
  // RFC 3986 §2.3.
  BOOST_TEST(form_encode({{"k", "AZaz09-._~"}}) == "k=AZaz09-._~");
}

BOOST_AUTO_TEST_CASE(EncodesSpaceAsPercent20) {
  BOOST_TEST(form_encode({{"scope", "a b"}}) == "scope=a%20b");
}

BOOST_AUTO_TEST_CASE(EncodesReservedCharacters) {
  BOOST_TEST(form_encode({{"k", "&=+/:?#%"}}) == "k=%26%3D%2B%2F%3A%3F%23%25");
}

BOOST_AUTO_TEST_CASE(EncodesUtf8Bytes) {
  BOOST_TEST(form_encode({{"k", "\xC3\xA6\x01"}}) == "k=%C3%A6%01");
}

BOOST_AUTO_TEST_CASE(EncodesNames) {
  BOOST_TEST(form_encode({{"a b", ""}}) == "a%20b=");
}

BOOST_AUTO_TEST_CASE(EmptyListIsEmpty) { BOOST_TEST(form_encode({}) == ""); }

BOOST_AUTO_TEST_SUITE_END()

// A proxy URL may carry a user and password; messages show scheme, host and
// port only.
BOOST_AUTO_TEST_SUITE(ProxyInMessages)

BOOST_AUTO_TEST_CASE(DropsUserAndPassword) {
  BOOST_TEST(proxy_for_messages("http://user:secret@proxy.example:3128") ==
             "http://proxy.example:3128");
  BOOST_TEST(proxy_for_messages("https://user@proxy.example") == "https://proxy.example");
}

BOOST_AUTO_TEST_CASE(PasswordWithAnAtSignIsDroppedWhole) {
  BOOST_TEST(proxy_for_messages("http://user:p@ss@w0rd@[::1]:8080/") == "http://[::1]:8080");
}

BOOST_AUTO_TEST_CASE(DropsPathAndQuery) {
  BOOST_TEST(proxy_for_messages("http://proxy.example:3128/x?token=secret") ==
             "http://proxy.example:3128");
}

BOOST_AUTO_TEST_CASE(WithoutSchemeStillDropsUserInformation) {
  BOOST_TEST(proxy_for_messages("user:secret@proxy.example:3128") == "proxy.example:3128");
}

BOOST_AUTO_TEST_CASE(PlainProxyIsShownAsConfigured) {
  BOOST_TEST(proxy_for_messages("http://proxy.example:3128") == "http://proxy.example:3128");
}

// Where the message is built: a TLS failure's hint names the proxy.
BOOST_AUTO_TEST_CASE(TlsFailureThroughProxyDoesNotQuoteThePassword) {
  HttpOptions options;
  options.proxy = "http://user:secret@proxy.example:3128";
  auto trust = TrustStore::load(std::nullopt);
  BOOST_TEST_REQUIRE(trust.ok());
  auto transfer = Transfer::make(get_request("https://mp.example/token", {}, options),
                                 std::move(trust).value());
  BOOST_TEST_REQUIRE(transfer.ok());
  auto answer = transfer.value()->finish(CURLE_PEER_FAILED_VERIFICATION);
  BOOST_TEST_REQUIRE(!answer.ok());
  const std::string& message = answer.error().message;
  BOOST_TEST(contains(message, "through proxy http://proxy.example:3128,"), message);
  BOOST_TEST(!contains(message, "secret"), message);
  BOOST_TEST(!contains(message, "user"), message);
}

BOOST_AUTO_TEST_CASE(RefusedProxySchemeDoesNotQuoteThePassword) {
  HttpOptions options;
  options.proxy = "socks5://user:secret@proxy.example:1080";
  auto trust = TrustStore::load(std::nullopt);
  BOOST_TEST_REQUIRE(trust.ok());
  auto transfer = Transfer::make(get_request("https://mp.example/token", {}, options),
                                 std::move(trust).value());
  BOOST_TEST_REQUIRE(!transfer.ok());
  BOOST_TEST(contains(transfer.error().message, "socks5://proxy.example:1080"),
             transfer.error().message);
  BOOST_TEST(!contains(transfer.error().message, "secret"), transfer.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
