// `vigie incident …`, `vigie ioc …` and `vigie retrohunt …`: the CSIRT's
// incidents (their EGI SEC01 clocks, timelines and scope), indicators of
// compromise and retro-hunts, over the collector's /api/v1/csirt/ API
// (routes in collector/src/csirt/api.h, shapes in csirt/json.h).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <ostream>

#include "api.h"

namespace vigie::cli {

// The CSIRT subcommands of one command line: added to the app before it
// parses, run after.
class CsirtCommands {
 public:
  // Adds `incident`, `ioc` and `retrohunt` to `app`. Arguments are checked
  // while parsing (a TLP, a severity, a state, a time…), each with a message
  // naming what it accepts.
  explicit CsirtCommands(CLI::App& app);
  ~CsirtCommands();
  CsirtCommands(const CsirtCommands&) = delete;
  CsirtCommands& operator=(const CsirtCommands&) = delete;

  // Whether the command line named one of them.
  bool parsed() const;

  // Runs the one named over `api`: the API's JSON (pretty) when
  // `json_output`, tables otherwise, on `out`; errors on stderr. `timeout` is
  // the global --timeout: `retrohunt --wait` polls for ten times as long at most.
  // Returns the exit code: 0, or kExitError (an incident changed meanwhile, a
  // state change refused, a failed or unfinished retro-hunt, an answer
  // without the expected shape).
  int run(const Api& api, bool json_output, std::chrono::seconds timeout, std::ostream& out) const;

 private:
  struct Arguments;
  std::unique_ptr<Arguments> args_;
};

}  // namespace vigie::cli
