#include "job_command.h"

#include <cstdio>

namespace vigie::cli {
namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string grams(double g) {
  return g >= 1000 ? fixed(g / 1000, 2) + " kgCO2e" : fixed(g, 1) + " gCO2e";
}

}  // namespace

CLI::App* add_job_command(CLI::App& app, std::string& job_id) {
  auto* job = app.add_subcommand("job", "a Slurm job's energy and carbon footprint");
  job->add_option("job_id", job_id, "Slurm job id")
      ->required()
      ->check([](const std::string& id) -> std::string {
        if (id.empty() || id.size() > 20 || id.find_first_not_of("0123456789") != std::string::npos)
          return "a Slurm job id is 1 to 20 decimal digits";
        return {};
      });
  return job;
}

std::string job_footprint_target(const std::string& job_id) {
  return "/api/v1/jobs/" + job_id + "/footprint";
}

void print_job_footprint(const nlohmann::json& f, std::ostream& out) {
  const bool estimated = f.at("estimated").get<bool>();
  const double joules = f.at("energy_joules").get<double>();
  out << "Job " << f.at("job_id").get<std::string>();
  if (!f.value("user", std::string()).empty()) out << " (" << f.value("user", std::string());
  if (!f.value("account", std::string()).empty())
    out << ", account " << f.value("account", std::string());
  if (!f.value("user", std::string()).empty()) out << ")";
  out << (estimated ? "  [ESTIMATED: no energy sensor on some node; model-based figures]" : "")
      << "\n";
  out << "  energy   " << fixed(joules / 3.6e6, 4) << " kWh (" << fixed(joules, 0) << " J)";
  const auto& b = f.at("breakdown_joules");
  out << "  cpu " << fixed(b.at("cpu").get<double>(), 0) << " J, dram "
      << fixed(b.at("dram").get<double>(), 0) << " J, gpu " << fixed(b.at("gpu").get<double>(), 0)
      << " J, idle share " << fixed(b.at("idle").get<double>(), 0) << " J\n";
  out << "  carbon   " << grams(f.at("carbon_gco2e").get<double>()) << " (operational "
      << grams(f.at("operational_gco2e").get<double>()) << ", embodied "
      << grams(f.at("embodied_gco2e").get<double>()) << ")\n";
  const auto& eq = f.at("equivalents");
  out << "  that is  " << fixed(eq.at("car_km").get<double>(), 2) << " km by car, "
      << fixed(eq.at("tree_months").get<double>(), 2) << " tree-months ("
      << eq.value("source", std::string()) << ")\n";
  for (const auto& h : f.at("hosts")) {
    out << "  host " << h.at("host").get<std::string>() << ": "
        << fixed(h.at("energy_joules").get<double>(), 0) << " J, "
        << grams(h.at("carbon_gco2e").get<double>()) << ", "
        << fixed(h.at("cpu_seconds").get<double>(), 1) << " CPU-s"
        << (h.at("estimated").get<bool>() ? " (estimated)" : "") << "\n";
  }
}

}  // namespace vigie::cli
