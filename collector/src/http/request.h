// An HTTP request as the collector's handlers see it, and their answer: no
// socket in sight (http/server.h does the I/O), so handlers are unit-tested
// directly and the federation's DistributionServer answers without the
// Handler.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vigie::collector {

struct Request {
  std::string method;         // "GET", "POST"…
  std::string target;         // path and query, as received
  std::string authorization;  // header values, "" when absent
  std::string content_type;
  std::string content_encoding;
  std::string if_none_match;  // entity tags of a conditional GET (distribution)
  std::string body;
  std::string if_match;  // entity tag of a conditional PATCH (CSIRT incidents)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Allow, Cache-Control)
};

}  // namespace vigie::collector
