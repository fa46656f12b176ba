// Shared helpers for the libFuzzer targets: how a target reports a broken
// contract so that libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vigie::fuzz {

// A documented guarantee did not hold: print why and abort, which libFuzzer
// turns into a crash-<sha1> artifact.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "vigie fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) finding(what);
}

}  // namespace vigie::fuzz
