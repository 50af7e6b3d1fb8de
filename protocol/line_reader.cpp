#include "protocol/line_reader.h"

namespace mpa::protocol {

bool LineReader::feed(std::string_view bytes) {
  if (overflowed_) return false;
  buffer_.append(bytes);
  // Every complete line must fit, and so must the unfinished tail.
  std::size_t pos = start_;
  for (;;) {
    const std::size_t nl = buffer_.find('\n', pos);
    if (nl == std::string::npos) {
      if (buffer_.size() - pos > max_line_) overflowed_ = true;
      break;
    }
    if (nl - pos > max_line_) {
      overflowed_ = true;
      break;
    }
    pos = nl + 1;
  }
  return !overflowed_;
}

std::optional<std::string> LineReader::next_line() {
  if (overflowed_) return std::nullopt;
  const std::size_t nl = buffer_.find('\n', start_);
  if (nl == std::string::npos) {
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    return std::nullopt;
  }
  std::string line = buffer_.substr(start_, nl - start_);
  start_ = nl + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace mpa::protocol
