#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/json_text.h"
#include "common/log.h"

using namespace mpa;

namespace {

// 2026-11-24T10:00:00Z and 123 ms.
constexpr std::int64_t kMorningMs = 1795514400123;

// The message member of a JSON line, after a strict parse; fails the test
// when the line is not one JSON object.
std::string message_of(const std::string& line) {
  rapidjson::Document document;
  const auto problem = json::parse_strict_json(document, line);
  BOOST_TEST_REQUIRE(!problem, line);
  BOOST_TEST_REQUIRE(document.IsObject());
  const rapidjson::Value* message = json::find(document, "message");
  BOOST_TEST_REQUIRE(message != nullptr);
  return std::string(json::view(*message));
}

// What log::write prints to stderr while `write` runs.
template <typename Write>
std::string stderr_of(Write write) {
  ::unsetenv("JOURNAL_STREAM");  // journald lines carry a "<N>" prefix
  std::FILE* capture = std::tmpfile();
  BOOST_TEST_REQUIRE(capture != nullptr);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(capture), STDERR_FILENO);
  write();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string text;
  std::rewind(capture);
  for (int c; (c = std::fgetc(capture)) != EOF;) text += static_cast<char>(c);
  std::fclose(capture);
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(JsonLogLine)

BOOST_AUTO_TEST_CASE(HasTimeLevelProgramAndMessageInThatOrder) {
  BOOST_TEST(log::json_line(log::Level::info, kMorningMs, "ready: listening on /run/a.sock") ==
             R"({"time":"2026-11-24T10:00:00.123Z","level":"info","program":"maskinporten-agent",)"
             R"("message":"ready: listening on /run/a.sock"})");
}

BOOST_AUTO_TEST_CASE(MillisecondsAlwaysHaveThreeDigits) {
  const std::string line = log::json_line(log::Level::info, 1795514400005, "m");
  BOOST_TEST(line.find(R"("time":"2026-11-24T10:00:00.005Z")") != std::string::npos);
  const std::string whole = log::json_line(log::Level::info, 1795514400000, "m");
  BOOST_TEST(whole.find(R"("time":"2026-11-24T10:00:00.000Z")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(EachLevelIsItsWord) {
  BOOST_TEST(log::json_line(log::Level::error, kMorningMs, "m").find(R"("level":"error")") !=
             std::string::npos);
  BOOST_TEST(log::json_line(log::Level::warning, kMorningMs, "m").find(R"("level":"warning")") !=
             std::string::npos);
  BOOST_TEST(log::json_line(log::Level::debug, kMorningMs, "m").find(R"("level":"debug")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(QuotesAndBackslashesAreEscaped) {
  const std::string line = log::json_line(log::Level::info, kMorningMs, R"(a "b" \c)");
  BOOST_TEST(line.find(R"("message":"a \"b\" \\c")") != std::string::npos);
  BOOST_TEST(message_of(line) == R"(a "b" \c)");
}

BOOST_AUTO_TEST_CASE(ControlCharactersAreEscapedSoARecordStaysOneLine) {
  const std::string message("line\n{\"level\":\"error\"}\r\t\x1b[0m\x01 end\0!", 34);
  const std::string line = log::json_line(log::Level::info, kMorningMs, message);
  for (char c : line) BOOST_TEST(static_cast<unsigned char>(c) >= 0x20, "a raw control byte");
  BOOST_TEST(line.find(R"(line\n{\"level\")") != std::string::npos);
  BOOST_TEST(line.find(R"(\u001B)") != std::string::npos);
  BOOST_TEST(line.find(R"(\u0000)") != std::string::npos);
  BOOST_TEST(message_of(line) == message);
}

BOOST_AUTO_TEST_CASE(ValidUtf8IsKeptAsItIs) {
  const std::string norwegian = "bl\xC3\xA5" "b\xC3\xA6" "r \xF0\x9F\x94\x91";  // blåbær 🔑
  const std::string line = log::json_line(log::Level::info, kMorningMs, norwegian);
  BOOST_TEST(line.find(norwegian) != std::string::npos);
  BOOST_TEST(message_of(line) == norwegian);
}

BOOST_AUTO_TEST_CASE(BytesThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string line =
      log::json_line(log::Level::warning, kMorningMs, "a\xFF" "b\xC3" "c\xED\xA0\x80" "d");
  // U+FFFD per byte that starts no valid sequence (a surrogate is not UTF-8).
  BOOST_TEST(message_of(line) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "d");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(LogFormatWords)

BOOST_AUTO_TEST_CASE(TextAndJsonAreTheFormats) {
  BOOST_TEST((log::parse_format("text") == log::Format::text));
  BOOST_TEST((log::parse_format("json") == log::Format::json));
  BOOST_TEST(log::format_word(log::Format::json) == std::string("json"));
}

BOOST_AUTO_TEST_CASE(OtherWordsAreNoFormat) {
  BOOST_TEST(!log::parse_format("JSON"));
  BOOST_TEST(!log::parse_format(""));
  BOOST_TEST(!log::parse_format("logfmt"));
  BOOST_TEST(!log::parse_format("json "));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(WritingInTheJsonFormat)

BOOST_AUTO_TEST_CASE(EveryRecordIsOneParsableLine) {
  log::set_format(log::Format::json);
  const std::string out = stderr_of([] {
    log::info("first\nsecond");
    log::warning("a \"quoted\" \xFF word");
    log::error(std::string("nul\0inside", 10));
  });
  log::set_format(log::Format::text);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = out.find('\n', at);
    BOOST_TEST_REQUIRE(end != std::string::npos, "the last record has its line end");
    lines.push_back(out.substr(at, end - at));
    at = end + 1;
  }
  BOOST_TEST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(message_of(lines[0]) == "first\nsecond");
  BOOST_TEST(message_of(lines[1]) == "a \"quoted\" \xEF\xBF\xBD word");
  BOOST_TEST(message_of(lines[2]) == std::string("nul\0inside", 10));
}

BOOST_AUTO_TEST_CASE(LinesBelowTheLevelAreDroppedAsInText) {
  log::set_format(log::Format::json);
  log::set_level(log::Level::warning);
  const std::string out = stderr_of([] {
    log::info("dropped");
    log::warning("kept");
  });
  log::set_level(log::Level::info);
  log::set_format(log::Format::text);
  BOOST_TEST(out.find("dropped") == std::string::npos);
  BOOST_TEST(message_of(out.substr(0, out.find('\n'))) == "kept");
}

BOOST_AUTO_TEST_CASE(TheTextFormatIsUnchanged) {
  log::set_format(log::Format::text);
  const std::string out = stderr_of([] { log::info("plain words"); });
  BOOST_TEST(out.find(" maskinporten-agent info: plain words\n") != std::string::npos);
  BOOST_TEST(out.front() != '{');
}

BOOST_AUTO_TEST_SUITE_END()
