// The target that makes the libraries' precompiled header (cmake/pch.h); it
// has no code of its own.
