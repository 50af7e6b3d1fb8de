// The field codec under wire.cpp: a writer that appends and a reader that
// checks every length before it takes the bytes. Private to agent/signer_helper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa::signer_helper {

class WireWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  void u64(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  // Fails (and remembers it) when `s` is longer than `max`.
  void bytes(std::span<const std::uint8_t> s, std::size_t max, std::string_view what) {
    if (s.size() > max) return fail(what, s.size(), max);
    u32(static_cast<std::uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void text(std::string_view s, std::size_t max, std::string_view what) {
    bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, max, what);
  }
  void count(std::size_t n, std::size_t max, std::string_view what) {
    if (n > max) return fail(what, n, max);
    u32(static_cast<std::uint32_t>(n));
  }

  Result<Bytes> finish() && {
    if (!error_.empty()) return make_error(ErrorCode::internal, "signer wire: " + error_);
    return std::move(out_);
  }

 private:
  void fail(std::string_view what, std::size_t n, std::size_t max) {
    if (error_.empty()) {
      error_ = std::string(what) + " has " + std::to_string(n) + ", more than the " +
               std::to_string(max) + " allowed";
    }
  }
  Bytes out_;
  std::string error_;
};

// Each read fails once the input is short or a limit is broken; after the
// first failure every read returns zero values and error() names it.
class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(number(1, "a u8")); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(number(4, "a u32")); }
  std::uint64_t u64() { return number(8, "a u64"); }

  Bytes bytes(std::size_t max, std::string_view what) {
    const auto span = take_sized(max, what);
    return Bytes(span.begin(), span.end());
  }
  std::string text(std::size_t max, std::string_view what) {
    const auto span = take_sized(max, what);
    return std::string(span.begin(), span.end());
  }
  // A list count, also refused when the rest could not hold that many items
  // of at least `min_item_bytes` each (so no reserve() of a forged count).
  std::size_t count(std::size_t max, std::size_t min_item_bytes, std::string_view what) {
    const std::uint32_t n = u32();
    if (n > max) return fail(what, "count " + std::to_string(n) + " over the limit " + std::to_string(max));
    if (min_item_bytes != 0 && n > remaining() / min_item_bytes) return fail(what, "count larger than the frame");
    return n;
  }
  void fail_with(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

  bool ok() const { return error_.empty(); }
  std::size_t remaining() const { return in_.size() - at_; }
  const std::string& error() const { return error_; }

 private:
  std::uint64_t number(std::size_t width, std::string_view what) {
    if (!ok()) return 0;
    if (remaining() < width) return fail(what, "truncated");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | in_[at_ + i];
    at_ += width;
    return v;
  }
  std::span<const std::uint8_t> take_sized(std::size_t max, std::string_view what) {
    const std::uint32_t n = u32();
    if (!ok()) return {};
    if (n > max) {
      fail(what, std::to_string(n) + " bytes, over the limit " + std::to_string(max));
      return {};
    }
    if (n > remaining()) {
      fail(what, "truncated");
      return {};
    }
    const auto span = in_.subspan(at_, n);
    at_ += n;
    return span;
  }
  std::size_t fail(std::string_view what, std::string why) {
    fail_with(std::string(what) + ": " + why);
    return 0;
  }

  std::span<const std::uint8_t> in_;
  std::size_t at_ = 0;
  std::string error_;
};

}  // namespace mpa::signer_helper
