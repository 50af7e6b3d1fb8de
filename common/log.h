// Logging to stderr, one line per event. Under systemd (JOURNAL_STREAM
// set) each line starts with a "<N>" priority prefix that journald reads
// (sd-daemon(3)); otherwise with a timestamp and the level in words.
// Never log a PIN or a whole token: log_token_ref() gives a safe reference.
#pragma once

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

// "sha256:1a2b3c4d" — first 8 hex digits of the token's SHA-256, enough to
// match log lines to a token without being able to use it.
std::string token_ref(std::string_view token);

}  // namespace mpa::log
