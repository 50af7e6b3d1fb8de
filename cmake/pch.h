// Headers precompiled once for the project's libraries and executables
// (cmake/build_flags.cmake): Asio, Beast's HTTP and RapidJSON take
// most of a file's compile time. Each file still includes what it uses; the
// build without precompiled headers (scripts/test.sh's TSan stage) checks so.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

// After the standard headers: Boost 1.74's Asio uses std::exchange without
// including <utility>.
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>
#include <rapidjson/writer.h>
