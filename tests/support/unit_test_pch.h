// Headers precompiled once for every unit test (cmake/build_flags.cmake):
// Boost.Test's macros, Asio and RapidJSON take most of a test file's compile
// time. Each test file still includes what it uses.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

// After the standard headers: Boost 1.74's Asio uses std::exchange without
// including <utility>.
#include <boost/test/unit_test.hpp>

#include <boost/asio.hpp>
#include <rapidjson/document.h>
#include <rapidjson/writer.h>
