// A problem found while loading rules or fixtures, pointing at its source.
#pragma once

#include <string>

namespace vigie::rules {

struct Diagnostic {
  std::string file;     // path as given to the loader, or the name passed with in-memory YAML
  int line = 0;         // 1-based line in `file`; 0 when the problem concerns the whole file
  std::string message;  // what is wrong, naming the unsupported feature or bad key

  bool operator==(const Diagnostic&) const = default;
};

// "file:line: message", the form compilers use, for logs and the CLI.
std::string to_string(const Diagnostic& diagnostic);

}  // namespace vigie::rules
