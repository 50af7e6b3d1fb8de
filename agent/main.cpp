#include "agent/cli/cli.h"

int main(int argc, char** argv) { return mpa::cli::main(argc, argv); }
