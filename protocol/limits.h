// Named limits of socket protocol v1 (DESIGN.md), checked before anything
// is buffered.
#pragma once

#include <cstddef>

namespace mpa::protocol {

// A request line longer than this gets an error and the connection closes.
inline constexpr std::size_t kMaxRequestLineBytes = 65536;
// A client that sends nothing for this long is disconnected.
inline constexpr int kIdleTimeoutSeconds = 30;

}  // namespace mpa::protocol
