// How a command in its own file reaches the collector: main.cpp's request(),
// behind a std::function, so that every command honours the global options
// (--collector, --token, --token-file, TLS, --timeout) and reports failures
// the same way, with the same exit codes.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vigie/protocol/http_client.h"

namespace vigie::cli {

inline constexpr int kExitError = 1;        // the collector answered an error
inline constexpr int kExitUnreachable = 2;  // no answer at all

struct ApiAnswer {
  int status = 0;
  nlohmann::json body;  // the answer's JSON; for a handled error, {"error": "<message>"} at least
  // The answer as received. A request with an Accept header that does not
  // ask for JSON (a CSV or HTML report) may get a body that is not JSON:
  // `body` is then null and this is the answer.
  std::string text;
};

// Sends `request` (Authorization added) and returns the collector's answer.
// When the collector cannot be reached, answers an error status that is not
// in `handled`, or answers something that is not JSON, it says why on stderr
// and exits (kExitUnreachable, kExitError).
using Api =
    std::function<ApiAnswer(protocol::HttpRequest request, const std::vector<int>& handled)>;

}  // namespace vigie::cli
