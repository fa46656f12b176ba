// `vigie rules lint | test | explain`: rule packs checked offline, without a collector.
#pragma once

#include <CLI/CLI.hpp>

namespace vigie::cli {

// Adds the `rules` subcommand to `app`. Its sub-subcommands run from CLI11
// callbacks during parsing and store their exit status in `exit_code`
// (0 ok, 1 a diagnostic or a failing fixture, 2 unusable input).
CLI::App* add_rules_command(CLI::App& app, int& exit_code);

}  // namespace vigie::cli
