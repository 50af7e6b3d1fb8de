// Test vectors made by an independent JOSE implementation: one of
// tests/vectors/make_*_vectors.py (PyJWT + cryptography, run with Debian's
// /usr/bin/python3) writes them into a temporary directory, which goes when
// this does. For Boost.Test fixtures.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "support/test_support.h"

namespace mpa::test {

struct GeneratedVectors {
  TempDir temp{"mpa-vectors"};
  std::filesystem::path dir = temp.path;
  std::map<std::string, std::string> tokens;  // tokens.json: name -> compact JWS

  GeneratedVectors(const std::string& script, std::int64_t now) {
    const std::string command = "/usr/bin/python3 '" + source_dir() + "/tests/vectors/" +
                                script + "' '" + dir.string() + "' --now " + std::to_string(now);
    BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, script << " failed");
    const std::string json = read_text(dir / "tokens.json");
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    BOOST_TEST_REQUIRE(doc.IsObject());
    // By index, not a range-for: RapidJSON 1.1's member iterators make
    // C++20's rewritten != ambiguous (a clang warning).
    const auto members = doc.GetObject();
    for (rapidjson::SizeType i = 0; i < members.MemberCount(); ++i) {
      const auto& m = members.MemberBegin()[i];
      tokens[m.name.GetString()] = m.value.GetString();
    }
  }
};

}  // namespace mpa::test
