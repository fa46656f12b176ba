// `vigie job <id> [--json]`: a Slurm job's energy and carbon footprint, as the
// collector totalled it at the job's end (GET /api/v1/jobs/<id>/footprint).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace vigie::cli {

// Adds the `job` subcommand; its positional JOB_ID (decimal digits) lands in `job_id`.
CLI::App* add_job_command(CLI::App& app, std::string& job_id);

// The API path of a job's footprint.
std::string job_footprint_target(const std::string& job_id);

// Human-readable summary: energy (kWh), carbon (g or kg CO2e, with the
// operational and embodied parts), equivalents and their source, per-host
// lines, and ESTIMATED when any figure came from the model. Throws
// nlohmann::json::exception on a malformed answer.
void print_job_footprint(const nlohmann::json& body, std::ostream& out);

}  // namespace vigie::cli
