#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ostream>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/test_support.h"
#include "support/fake_agent.h"
#include "agent/cli/cli.h"
#include "agent/cli/client_commands.h"
#include "common/clock.h"
#include "protocol/status.h"

using namespace mpa;
namespace fs = std::filesystem;
using mpa::test::AfterAnswers;
using mpa::test::FakeAgent;
using mpa::test::TempDir;
using mpa::test::contains;
using mpa::test::read_text;
using mpa::test::why;

namespace {

constexpr const char* kTokenAnswer =
    "{\"ok\":true,\"access_token\":\"eyJ.abc.def\",\"token_type\":\"Bearer\",\"expires_in\":118,"
    "\"expires_at\":1795391934,\"scope\":\"altinn:enduser\"}\n";

// The status answer as the CLI gets it from the protocol's decoder.
protocol::StatusResponse decoded_status(const std::string& line) {
  auto status = protocol::decode_status_response(line);
  BOOST_TEST_REQUIRE(status.ok(), why(status));
  return std::move(status).value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(SocketPath)

BOOST_AUTO_TEST_CASE(FlagWinsOverEverything) {
  cli::SocketPathSources sources{"/flag.sock", "/env.sock", "/nonexistent.toml", "/run/user/1", std::nullopt};
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/flag.sock");
}

BOOST_AUTO_TEST_CASE(EnvironmentWinsOverConfigAndRuntimeDirectory) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[agent]\nsocket = \"/from/config.sock\"\n";
  cli::SocketPathSources sources{std::nullopt, "/env.sock", (dir.path / "agent.toml").string(), "/run/user/1", std::nullopt};
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/env.sock");
}

BOOST_AUTO_TEST_CASE(ConfigFileSocketComesBeforeRuntimeDirectory) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml")
      << "[agent]\nsocket = \"/from/config.sock\"\n\n[pkcs11]\nmodule = \"x\"\n";
  cli::SocketPathSources sources{std::nullopt, std::nullopt, (dir.path / "agent.toml").string(), "/run/user/1", std::nullopt};
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/from/config.sock");
}

BOOST_AUTO_TEST_CASE(BrokenOrSocketlessConfigFileIsSkipped) {
  TempDir dir;
  std::ofstream(dir.path / "broken.toml") << "[agent\nsocket = ";
  std::ofstream(dir.path / "other.toml") << "[agent]\nsocket_mode = \"0600\"\n";
  std::ofstream(dir.path / "number.toml") << "[agent]\nsocket = 5\n";
  for (const char* name : {"broken.toml", "other.toml", "number.toml", "missing.toml"}) {
    cli::SocketPathSources sources{std::nullopt, std::nullopt, (dir.path / name).string(), "/run/user/1", std::nullopt};
    BOOST_TEST(cli::resolve_socket_path(sources).value() == "/run/user/1/maskinporten-agent/agent.sock", name);
  }
}

BOOST_AUTO_TEST_CASE(EmptyValuesCountAsUnset) {
  cli::SocketPathSources sources{"", "", "/nonexistent.toml", "/run/user/1", std::nullopt};
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/run/user/1/maskinporten-agent/agent.sock");
}

BOOST_AUTO_TEST_CASE(NoSourceAtAllIsAnErrorInWords) {
  cli::SocketPathSources sources{std::nullopt, std::nullopt, "/nonexistent.toml", std::nullopt, std::nullopt};
  const auto path = cli::resolve_socket_path(sources);
  BOOST_TEST_REQUIRE(!path.ok());
  BOOST_TEST(path.error().message ==
             "no socket to ask: give --socket PATH or --config FILE, or set MASKINPORTEN_AGENT_SOCKET "
             "(/nonexistent.toml does not exist, and XDG_RUNTIME_DIR is not set)");
}

BOOST_AUTO_TEST_CASE(NoSourceErrorSaysWhyTheSystemFileNamedNone) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[agent]\nsocket_mode = \"0600\"\n";
  cli::SocketPathSources sources{std::nullopt, std::nullopt, (dir.path / "agent.toml").string(), std::nullopt, std::nullopt};
  const auto path = cli::resolve_socket_path(sources);
  BOOST_TEST_REQUIRE(!path.ok());
  BOOST_TEST(contains(path.error().message, "agent.toml names no [agent] socket, and XDG_RUNTIME_DIR"),
             path.error().message);
}

BOOST_AUTO_TEST_CASE(ConfigFlagFindsTheSocketRunWouldListenOn) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[agent]\nsocket = \"run/agent.sock\"\n";
  cli::SocketPathSources sources{std::nullopt, "/env.sock", "/nonexistent.toml", "/run/user/1", std::nullopt};
  sources.config_flag = (dir.path / "agent.toml").string();
  BOOST_TEST(cli::resolve_socket_path(sources).value() == (dir.path / "run/agent.sock").string());
}

BOOST_AUTO_TEST_CASE(ConfigFlagWithoutSocketMeansRunsDefault) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[pkcs11]\nmodule = \"x\"\n";
  cli::SocketPathSources sources{std::nullopt, "/env.sock", "/nonexistent.toml", "/run/user/1", std::nullopt};
  sources.config_flag = (dir.path / "agent.toml").string();
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/run/user/1/maskinporten-agent/agent.sock");
}

BOOST_AUTO_TEST_CASE(SocketFlagWinsOverConfigFlag) {
  cli::SocketPathSources sources{"/flag.sock", std::nullopt, "/nonexistent.toml", std::nullopt, std::nullopt};
  sources.config_flag = "/nonexistent/agent.toml";
  BOOST_TEST(cli::resolve_socket_path(sources).value() == "/flag.sock");
}

BOOST_AUTO_TEST_CASE(ConfigFlagNamingNoReadableFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path / "broken.toml") << "[agent\nsocket = ";
  for (const std::string name : {"missing.toml", "broken.toml"}) {
    cli::SocketPathSources sources{std::nullopt, "/env.sock", "/nonexistent.toml", "/run/user/1", std::nullopt};
    sources.config_flag = (dir.path / name).string();
    const auto path = cli::resolve_socket_path(sources);
    BOOST_TEST_REQUIRE(!path.ok(), name);
    BOOST_TEST(path.error().code == ErrorCode::invalid_config);
    BOOST_TEST(contains(path.error().message, "--config " + (dir.path / name).string() + " "),
               path.error().message);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(StatusRendering)

constexpr std::int64_t kNow = 1750000000;

BOOST_AUTO_TEST_CASE(SummarisesClientsAndCache) {
  const std::string json =
      R"({"ok":true,"version":"0.1.0","uptime_seconds":7500,"clients":[{"name":"default",)"
      R"("client_id":"0ee1","token_present":true,"logged_in":true,"token_label":"Virksomhet Test",)"
      R"("certificate_subject":"CN=Test, O=Org","certificate_not_after":)" +
      std::to_string(kNow + 100 * 86400) +
      R"(,"last_error":null}],"cache":{"entries":3,"in_flight":0,"hits":120,"misses":5,"exchanges":5}})";
  const std::string text = cli::render_status(decoded_status(json), kNow);
  BOOST_TEST(contains(text, "agent 0.1.0, up 2 h 5 min\n"), text);
  BOOST_TEST(contains(text, "client \"default\" (client id 0ee1)\n"), text);
  BOOST_TEST(contains(text, "  token: present, logged in (\"Virksomhet Test\")\n"), text);
  BOOST_TEST(contains(text, "  certificate: CN=Test, O=Org, valid until "), text);
  BOOST_TEST(contains(text, "(100 days)\n"), text);
  BOOST_TEST(contains(text, "  last error: none\n"), text);
  BOOST_TEST(contains(text, "cache: 3 entries, 0 in flight; 120 hits, 5 misses, 5 exchanges"), text);
  BOOST_TEST(!contains(text, "recent failure"), text);
}

BOOST_AUTO_TEST_CASE(SaysHowBusyTheWorkersAre) {
  const std::string json =
      R"({"ok":true,"version":"0.1.0","uptime_seconds":5,"clients":[],)"
      R"("cache":{"entries":0,"in_flight":4,"hits":0,"misses":4,"exchanges":4,"held":0},)"
      R"("workers":{"size":4,"exchanging":3,"waiting":1},)"
      R"("signing":[{"token":"token=agent;serial=42","threads":1,"signing":1,"queued":2,"oldest_wait_ms":80}]})";
  const std::string text = cli::render_status(decoded_status(json), kNow);
  BOOST_TEST(contains(text, "\nexchanges: 3 of 4 in flight, 1 waiting for a slot\n"), text);
  BOOST_TEST(contains(text, "\nsigning token=agent;serial=42: 1 of 1 signing, 2 queued (oldest 80 ms)\n"),
             text);
}

BOOST_AUTO_TEST_CASE(CountsMissesAnsweredWithAHeldFailure) {
  const std::string json =
      R"({"ok":true,"version":"0.1.0","uptime_seconds":5,"clients":[],)"
      R"("cache":{"entries":1,"in_flight":0,"hits":0,"misses":9,"exchanges":2,"held":7}})";
  const std::string text = cli::render_status(decoded_status(json), kNow);
  BOOST_TEST(contains(text, "9 misses, 2 exchanges with Maskinporten; 7 misses answered with a "
                            "recent failure\n"),
             text);
}

BOOST_AUTO_TEST_CASE(FlagsMissingTokenExpiredCertificateAndLastError) {
  const std::string json =
      R"({"ok":true,"clients":[{"name":"a","token_present":false,"certificate_not_after":)" +
      std::to_string(kNow - 86400) + R"(,"last_error":"hsm_error: token removed"}]})";
  const std::string text = cli::render_status(decoded_status(json), kNow);
  BOOST_TEST(contains(text, "token: NOT PRESENT"), text);
  BOOST_TEST(contains(text, "EXPIRED on "), text);
  BOOST_TEST(contains(text, "last error: hsm_error: token removed"), text);
}

BOOST_AUTO_TEST_CASE(DatesTheLastErrorAndShowsItAsPastOnceAnExchangeSucceeded) {
  const std::string failing =
      R"({"ok":true,"clients":[{"name":"a","last_error":"hsm_error: signer restarting: x, next try in 1 s",)"
      R"("last_error_at":)" + std::to_string(kNow - 90) + R"(,"last_error_past":false}]})";
  const std::string text = cli::render_status(decoded_status(failing), kNow);
  BOOST_TEST(contains(text, "  last error: hsm_error: signer restarting: x, next try in 1 s (at " +
                                format_utc(kNow - 90, UtcFormat::readable) + ", 1 min ago)\n"),
             text);
  std::string recovered = failing;
  recovered.replace(recovered.find("false"), 5, "true");
  const std::string past = cli::render_status(decoded_status(recovered), kNow);
  BOOST_TEST(contains(past, "  last error (past: an exchange succeeded since): hsm_error: signer "
                            "restarting: x, next try in 1 s (at "),
             past);
}

BOOST_AUTO_TEST_CASE(WarnsAboutCertificateCloseToItsEnd) {
  const std::string json = R"({"ok":true,"clients":[{"name":"a","token_present":true,"logged_in":false,)"
                           R"("certificate_not_after":)" +
                           std::to_string(kNow + 10 * 86400) + "}]}";
  const std::string text = cli::render_status(decoded_status(json), kNow);
  BOOST_TEST(contains(text, "NOT logged in"), text);
  BOOST_TEST(contains(text, "renew it soon"), text);
}

BOOST_AUTO_TEST_CASE(ShowsWhatTheAnswerLacksAsUnknown) {
  const std::string text = cli::render_status(decoded_status(R"({"ok":true,"clients":[{}],"cache":{}})"), kNow);
  BOOST_TEST(text == "agent (version unknown)\nclient \"?\"\n  token: unknown\n  certificate: unknown\n"
                     "  last error: none\ncache: ? entries, ? in flight; ? hits, ? misses, ? exchanges "
                     "with Maskinporten\n",
             text);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct Captured {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs a subcommand in this process with stdout and stderr sent to files.
Captured run(int (*command)(const std::vector<std::string>&), const std::vector<std::string>& args) {
  TempDir dir;
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = ::dup(STDOUT_FILENO);
  const int saved_err = ::dup(STDERR_FILENO);
  const int out = ::open((dir.path / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = ::open((dir.path / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  ::close(out);
  ::close(err);
  Captured captured;
  captured.status = command(args);
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, STDOUT_FILENO);
  ::dup2(saved_err, STDERR_FILENO);
  ::close(saved_out);
  ::close(saved_err);
  captured.out = read_text(dir.path / "out");
  captured.err = read_text(dir.path / "err");
  return captured;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(Commands)

BOOST_AUTO_TEST_CASE(TokenPrintsTheBareTokenAndANewline) {
  FakeAgent agent({kTokenAnswer});
  const Captured c = run(cli::token_command, {"--scope", "altinn:enduser", "--scope=b:c", "--resource",
                                              "https://x", "--min-ttl", "30", "--exchange", "altinn",
                                              "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == "eyJ.abc.def\n");
  BOOST_TEST(c.err == "");
  BOOST_TEST(agent.received() ==
             std::vector<std::string>{R"({"op":"token","scopes":["altinn:enduser","b:c"],"resource":["https://x"],"min_ttl":30,"exchange":"altinn"})"});
}

BOOST_AUTO_TEST_CASE(TokenJsonPrintsTheWholeAnswer) {
  FakeAgent agent({kTokenAnswer});
  const Captured c = run(cli::token_command, {"--scope", "a", "--json", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == kTokenAnswer);
}

BOOST_AUTO_TEST_CASE(TokenFindsTheSocketInTheEnvironment) {
  FakeAgent agent({kTokenAnswer});
  ::setenv("MASKINPORTEN_AGENT_SOCKET", agent.path().c_str(), 1);
  const Captured c = run(cli::token_command, {"--scope", "a"});
  ::unsetenv("MASKINPORTEN_AGENT_SOCKET");
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == "eyJ.abc.def\n");
}

BOOST_AUTO_TEST_CASE(TokenRefusedByTheAgentPrintsItsCodeAndWords) {
  FakeAgent agent({"{\"ok\":false,\"error\":\"invalid_scope\",\"message\":\"scope x is not in this client's list\"}\n"});
  const Captured c = run(cli::token_command, {"--scope", "x", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitFailed);
  BOOST_TEST(c.out == "");
  BOOST_TEST(c.err == "error: invalid_scope: scope x is not in this client's list\n");
}

BOOST_AUTO_TEST_CASE(TokenWithoutAgentSaysSoInOneLine) {
  TempDir dir;
  const std::string path = (dir.path / "agent.sock").string();
  const Captured c = run(cli::token_command, {"--scope", "a", "--socket", path});
  BOOST_TEST(c.status == cli::kExitFailed);
  BOOST_TEST(c.err == "error: unavailable: " + path +
                          " does not exist; is the agent running? (maskinporten-agent run --config FILE)\n");
}

BOOST_AUTO_TEST_CASE(TokenFindsTheSocketThroughConfig) {
  FakeAgent agent({kTokenAnswer});
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[agent]\nsocket = \"" << agent.path() << "\"\n";
  const Captured c = run(cli::token_command, {"--scope", "a", "--config", (dir.path / "agent.toml").string()});
  BOOST_TEST(c.status == cli::kExitOk, c.err);
  BOOST_TEST(c.out == "eyJ.abc.def\n");
}

BOOST_AUTO_TEST_CASE(StatusAndInvalidateTakeConfigToo) {
  TempDir dir;
  std::ofstream(dir.path / "agent.toml") << "[agent]\nsocket = \"gone.sock\"\n";
  const std::string config = (dir.path / "agent.toml").string();
  const std::string expected = "error: unavailable: " + (dir.path / "gone.sock").string() + " does not exist";
  const Captured status = run(cli::status_command, {"--config", config});
  BOOST_TEST(status.status == cli::kExitFailed);
  BOOST_TEST(contains(status.err, expected), status.err);
  const Captured invalidate = run(cli::invalidate_command, {"--scope", "a", "--config", config});
  BOOST_TEST(invalidate.status == cli::kExitFailed);
  BOOST_TEST(contains(invalidate.err, expected), invalidate.err);
}

BOOST_AUTO_TEST_CASE(TokenFormatCredentialProcessGivesRfc3339Expiry) {
  FakeAgent agent({kTokenAnswer});
  const Captured c = run(cli::token_command, {"--scope", "a", "--format", "credential-process", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk, c.err);
  BOOST_TEST(c.out == "{\"version\":1,\"access_token\":\"eyJ.abc.def\",\"token_type\":\"Bearer\","
                      "\"expires_at\":\"2026-11-22T23:58:54Z\"}\n");
}

BOOST_AUTO_TEST_CASE(ScopeWithASpaceGetsCliWords) {
  const Captured c = run(cli::token_command, {"--scope", "a b", "--socket", "/nonexistent.sock"});
  BOOST_TEST(c.status == cli::kExitUsage);
  BOOST_TEST(c.err == "error: usage: --scope \"a b\" holds whitespace; give each scope its own --scope "
                      "(--scope a --scope b)\n(see: maskinporten-agent token --help)\n");
}

BOOST_AUTO_TEST_CASE(UsageErrorsNameTheirKind) {
  const Captured c = run(cli::token_command, {"--scope", "a", "--colour", "red"});
  BOOST_TEST(c.err == "error: usage: unknown option --colour\n(see: maskinporten-agent token --help)\n");
}

BOOST_AUTO_TEST_CASE(VersionPrintsTheVersion) {
  const Captured c = run(cli::version_command, {});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out.rfind("maskinporten-agent ", 0) == 0u);
  BOOST_TEST(c.out.back() == '\n');
  BOOST_TEST(run(cli::version_command, {"x"}).status == cli::kExitUsage);
}

BOOST_AUTO_TEST_CASE(ExecNeedsACommandAndAVariableName) {
  const std::vector<std::vector<std::string>> cases = {
      {"--scope", "a"},
      {"--scope", "a", "--"},
      {"--scope", "a", "--env", "1X", "--", "true"},
      {"--scope", "a", "--env", "A-B", "--", "true"},
      {"--env", "A", "--", "true"},
  };
  for (const auto& args : cases) {
    const Captured c = run(cli::exec_command, args);
    BOOST_TEST(c.status == cli::kExitUsage);
    BOOST_TEST(c.err.rfind("error: usage: ", 0) == 0u, c.err);
  }
}

BOOST_AUTO_TEST_CASE(TokenUsageErrorsExitTwoWithoutAskingTheAgent) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--scope", "a", "--min-ttl", "-1"},
      {"--scope", "a", "--min-ttl", "soon"},
      {"--scope", "a", "--exchange", "foo"},
      {"--scope", "a", "--authorization-details", "[{"},
      {"--scope", "a", "--colour", "red"},
      {"--scope", "a", "--socket", ""},
  };
  for (const auto& args : cases) {
    const Captured c = run(cli::token_command, args);
    BOOST_TEST(c.status == cli::kExitUsage);
    BOOST_TEST(c.err.rfind("error: ", 0) == 0u, c.err);
    BOOST_TEST(contains(c.err, "maskinporten-agent token --help"), c.err);
  }
}

BOOST_AUTO_TEST_CASE(EveryCommandExplainsItselfWithHelp) {
  for (auto command : {cli::token_command, cli::status_command, cli::invalidate_command, cli::exec_command}) {
    const Captured c = run(command, {"--help"});
    BOOST_TEST(c.status == cli::kExitOk);
    BOOST_TEST(contains(c.out, "usage: maskinporten-agent "));
    BOOST_TEST(contains(c.out, "MASKINPORTEN_AGENT_SOCKET"));
    BOOST_TEST(contains(c.out, "exit status: "));
    BOOST_TEST(contains(c.out, "example:"));
  }
}

BOOST_AUTO_TEST_CASE(StatusPrintsASummary) {
  FakeAgent agent({"{\"ok\":true,\"version\":\"0.1.0\",\"uptime_seconds\":5,\"clients\":[],"
                   "\"cache\":{\"entries\":0,\"in_flight\":0,\"hits\":0,\"misses\":0,\"exchanges\":0}}\n"});
  const Captured c = run(cli::status_command, {"--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == "agent 0.1.0, up 5 s\nno clients configured\n"
                      "cache: 0 entries, 0 in flight; 0 hits, 0 misses, 0 exchanges with Maskinporten\n");
  BOOST_TEST(agent.received() == std::vector<std::string>{R"({"op":"status"})"});
}

BOOST_AUTO_TEST_CASE(StatusJsonPrintsTheAnswer) {
  FakeAgent agent({"{\"ok\":true,\"version\":\"0.1.0\"}\n"});
  const Captured c = run(cli::status_command, {"--json", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == "{\"ok\":true,\"version\":\"0.1.0\"}\n");
}

BOOST_AUTO_TEST_CASE(StatusAnswerThatIsNotJsonIsAnErrorInOneLine) {
  FakeAgent agent({"{\n"});
  const Captured c = run(cli::status_command, {"--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitFailed);
  BOOST_TEST(c.out == "");
  BOOST_TEST(c.err.rfind("error: internal: the agent's answer is not JSON: ", 0) == 0u, c.err);
}

BOOST_AUTO_TEST_CASE(StatusRefusesOptionsItDoesNotHave) {
  BOOST_TEST(run(cli::status_command, {"--scope", "a"}).status == cli::kExitUsage);
}

BOOST_AUTO_TEST_CASE(InvalidateSendsTheTargetAndPrintsNothing) {
  FakeAgent agent({"{\"ok\":true}\n"});
  const Captured c = run(cli::invalidate_command,
                         {"--client", "default", "--scope", "altinn:enduser", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitOk);
  BOOST_TEST(c.out == "");
  BOOST_TEST(agent.received() ==
             std::vector<std::string>{R"({"op":"invalidate","client":"default","scopes":["altinn:enduser"]})"});
}

BOOST_AUTO_TEST_CASE(InvalidateHasNoMinTtl) {
  BOOST_TEST(run(cli::invalidate_command, {"--scope", "a", "--min-ttl", "5"}).status == cli::kExitUsage);
}

BOOST_AUTO_TEST_CASE(InvalidateRefusedByTheAgentPrintsItsCode) {
  FakeAgent agent({"{\"ok\":false,\"error\":\"forbidden\",\"message\":\"not for uid 1001\"}\n"});
  const Captured c = run(cli::invalidate_command, {"--scope", "a", "--socket", agent.path()});
  BOOST_TEST(c.status == cli::kExitFailed);
  BOOST_TEST(c.err == "error: forbidden: not for uid 1001\n");
}

BOOST_AUTO_TEST_SUITE_END()
