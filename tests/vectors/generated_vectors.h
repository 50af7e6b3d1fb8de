// Test vectors made by an independent JOSE implementation: one of
// tests/vectors/make_*_vectors.py (PyJWT + cryptography, run with Debian's
// /usr/bin/python3) writes them into a temporary directory, which goes when
// this does. For Boost.Test fixtures: include after boost/test.
#pragma once

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "support/test_support.h"

namespace mpa::test {

struct GeneratedVectors {
  TempDir temp{"mpa-vectors"};
  std::filesystem::path dir = temp.path;
  std::map<std::string, std::string> tokens;  // tokens.json: name -> compact JWS

  GeneratedVectors(const std::string& script, std::int64_t now) {
    const char* source = std::getenv("MPA_SOURCE_DIR");
    BOOST_TEST_REQUIRE(source != nullptr, "MPA_SOURCE_DIR is not set (run through ctest)");
    const std::string command = "/usr/bin/python3 '" + std::string(source) + "/tests/vectors/" +
                                script + "' '" + dir.string() + "' --now " + std::to_string(now);
    BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, script << " failed");
    std::ifstream in(dir / "tokens.json", std::ios::binary);
    std::ostringstream json;
    json << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(json.str().c_str());
    BOOST_TEST_REQUIRE(doc.IsObject());
    for (const auto& m : doc.GetObject()) tokens[m.name.GetString()] = m.value.GetString();
  }
};

}  // namespace mpa::test
