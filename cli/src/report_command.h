// `vigie facility …`, `vigie grid import` and `vigie report …`: a
// sustainability officer's facilities, their meter readings, the grid
// carbon intensity series and the EU 2024/1364 / ISO/IEC 30134 reports, over
// the collector's API (routes in collector/src/reports/reports.h).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <ostream>

#include "api.h"

namespace vigie::cli {

class ReportCommands {
 public:
  // Adds `facility add|list|import|check`, `grid import` and `report
  // datacentre|communities|federation` to `app`.
  explicit ReportCommands(CLI::App& app);
  ~ReportCommands();
  ReportCommands(const ReportCommands&) = delete;
  ReportCommands& operator=(const ReportCommands&) = delete;

  bool parsed() const;
  // Runs the one named: tables on `out`, or the API's JSON when
  // `json_output`; `report … --format csv|html` writes the collector's file
  // to --output or `out`. Returns the exit code.
  int run(const Api& api, bool json_output, std::ostream& out) const;

 private:
  struct Arguments;
  std::unique_ptr<Arguments> args_;
};

}  // namespace vigie::cli
