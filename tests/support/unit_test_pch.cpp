// The target that makes the unit tests' precompiled header
// (support/unit_test_pch.h); an executable that does nothing and is never run.
int main() { return 0; }
