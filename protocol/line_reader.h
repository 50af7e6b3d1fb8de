// Splits a byte stream into JSON Lines with a bound on line length,
// checked before anything past the bound is buffered.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/limits.h"

namespace mpa::protocol {

class LineReader {
 public:
  explicit LineReader(std::size_t max_line = kMaxRequestLineBytes) : max_line_(max_line) {}

  // Adds bytes read from the socket. Returns false once a line (without
  // its '\n') has grown past the limit; the reader then stays overflowed.
  bool feed(std::string_view bytes);

  // The next complete line without its '\n' (and a trailing '\r').
  std::optional<std::string> next_line();

  bool overflowed() const { return overflowed_; }
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::size_t max_line_;
  std::string buffer_;
  std::size_t start_ = 0;
  bool overflowed_ = false;
};

}  // namespace mpa::protocol
