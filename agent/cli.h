// The command line (DESIGN.md "Command line"): exit 0 success, 1 the
// operation failed (one `error:` line on stderr), 2 usage error.
#pragma once

namespace mpa::cli {

int main(int argc, char** argv);

}  // namespace mpa::cli
