#include "agent/cli.h"

int main(int argc, char** argv) { return mpa::cli::main(argc, argv); }
