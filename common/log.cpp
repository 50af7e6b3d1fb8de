#include "common/log.h"

#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "common/clock.h"

namespace mpa::log {
namespace {

std::atomic<int> g_least_severe{static_cast<int>(Level::info)};
std::atomic<Format> g_format{Format::text};
std::mutex g_mutex;

bool under_journald() { return std::getenv("JOURNAL_STREAM") != nullptr; }

std::int64_t epoch_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* level_word(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "info";
}

void set_format(Format format) { g_format = format; }

Format current_format() { return g_format; }

const char* format_word(Format format) { return format == Format::json ? "json" : "text"; }

std::optional<Format> parse_format(std::string_view word) {
  for (Format format : {Format::text, Format::json}) {
    if (word == format_word(format)) return format;
  }
  return std::nullopt;
}

void set_level(Level least_severe_written) { g_least_severe = static_cast<int>(least_severe_written); }

void set_verbose(bool verbose) { set_level(verbose ? Level::debug : Level::info); }

std::optional<Level> parse_level(std::string_view word) {
  for (Level level : {Level::error, Level::warning, Level::info, Level::debug}) {
    if (word == level_word(level)) return level;
  }
  return std::nullopt;
}

void write(Level level, std::string_view message) {
  if (static_cast<int>(level) > g_least_severe) return;
  static const bool journald = under_journald();
  // journald strips the "<N>" and keeps the object as the MESSAGE.
  if (g_format == Format::json) {
    const std::string line = json_line(level, epoch_ms_now(), message);
    std::lock_guard lock(g_mutex);
    if (journald) std::fprintf(stderr, "<%d>", static_cast<int>(level));
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
    return;
  }
  std::lock_guard lock(g_mutex);
  if (journald) {
    std::fprintf(stderr, "<%d>%.*s\n", static_cast<int>(level), static_cast<int>(message.size()),
                 message.data());
  } else {
    const std::string stamp = format_utc(epoch_seconds_now());
    std::fprintf(stderr, "%s %s %s: %.*s\n", stamp.c_str(), kProgramName, level_word(level),
                 static_cast<int>(message.size()), message.data());
  }
  std::fflush(stderr);
}

std::string token_ref(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  char out[8 + 8 + 1];
  std::snprintf(out, sizeof out, "sha256:%02x%02x%02x%02x", digest[0], digest[1], digest[2],
                digest[3]);
  return out;
}

}  // namespace mpa::log
