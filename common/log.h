// Logging to stderr, one line per event. Under systemd (JOURNAL_STREAM
// set) each line starts with a "<N>" priority prefix that journald reads
// (sd-daemon(3)); otherwise with a timestamp and the level in words.
// Format::json makes the rest of the line one JSON object instead.
// Never log a PIN or a whole token: log_token_ref() gives a safe reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpa::log {

enum class Level { error = 3, warning = 4, info = 6, debug = 7 };

void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::error, m); }
inline void warning(std::string_view m) { write(Level::warning, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void debug(std::string_view m) { write(Level::debug, m); }

// Lines less severe than the level are dropped; the default is info.
void set_level(Level least_severe_written);
void set_verbose(bool verbose);  // set_level(debug) or set_level(info)

// "error", "warning", "info" or "debug"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view word);
const char* level_word(Level level);

// The name every line carries, as syslog's tag.
inline constexpr const char* kProgramName = "maskinporten-agent";

// text: "2026-11-24T10:00:00Z maskinporten-agent info: message" (the default).
// json: one object per line, for log collectors (log_json.cpp).
enum class Format { text, json };
void set_format(Format format);
Format current_format();
// "text" or "json"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view word);
const char* format_word(Format format);

// The JSON line (without its line end) for one record at `epoch_ms`:
// {"time":"2026-11-24T10:00:00.123Z","level":"info","program":"maskinporten-agent",
//  "message":"..."}. Control characters, quotes and backslashes are escaped
// and bytes that are not UTF-8 become U+FFFD, so a record is always one
// whole line.
std::string json_line(Level level, std::int64_t epoch_ms, std::string_view message);

// "sha256:1a2b3c4d" — first 8 hex digits of the token's SHA-256, enough to
// match log lines to a token without being able to use it.
std::string token_ref(std::string_view token);

}  // namespace mpa::log
