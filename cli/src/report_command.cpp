#include "report_command.h"

#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "format.h"
#include "table.h"

namespace vigie::cli {

using nlohmann::json;

namespace {

struct Values {
  std::string facility, file, zone, basis, source, version, column;
  std::string year, from, to, format = "table", output, group_by = "account", idle = "separate";
};

using Command = std::function<int(const Values&, const Api&, bool, std::ostream&)>;

// The whole of `path` ("-": standard input); exits with a message when unreadable.
std::string read_all(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "vigie: cannot read " << path << '\n';
    std::exit(kExitError);
  }
  return {std::istreambuf_iterator<char>(in), {}};
}

protocol::HttpRequest request(std::string method, std::string target, std::string body = {},
                              std::string type = "application/json") {
  return {
      std::move(method), std::move(target), {{"Content-Type", std::move(type)}}, std::move(body)};
}

std::string number(const json& v, int decimals = 3) {
  if (!v.is_number()) return "-";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << v.get<double>();
  return out.str();
}

// A CSV or HTML report: written to --output, or to `out`.
int write_file(const Api& api, const std::string& target, const Values& v, std::ostream& out) {
  auto r = request("GET", target);
  r.headers.emplace_back("Accept", v.format == "csv" ? "text/csv" : "text/html");
  const ApiAnswer answer = api(std::move(r), {});
  if (v.output.empty()) {
    out << answer.text;
    return 0;
  }
  std::ofstream file(v.output, std::ios::binary);
  file << answer.text;
  if (!file.flush()) {
    std::cerr << "vigie: cannot write " << v.output << '\n';
    return kExitError;
  }
  out << "wrote " << v.output << '\n';
  return 0;
}

void print_datacentre(const json& r, std::ostream& out) {
  const json& f = r.at("facility");
  const json& scope = r.at("scope");
  out << f.value("name", "") << " (" << f.value("id", "") << "), "
      << r.at("period").value("from", "") << " → " << r.at("period").value("to", "")
      << (r.value("calendar_year", false) ? "" : " (interim)") << "\nPDIT "
      << number(scope.at("pdit_kw"), 0) << " kW, "
      << (scope.value("in_scope_2024_1364", false) ? "in scope" : "not in scope")
      << " of Regulation (EU) 2024/1364, size category "
      << (scope.value("size_category", "").empty() ? "below 100 kW"
                                                   : scope.value("size_category", ""))
      << "\n\n";
  Table table({"REF", "SYMBOL", "VALUE", "UNIT", "QUALITY", "NOTES"});
  for (const auto& item : r.at("items")) {
    const json& value = item.at("value");
    std::string notes;
    for (const auto& n : item.value("notes", json::array()))
      notes += (notes.empty() ? "" : "; ") + n.get<std::string>();
    std::string quality = item.value("quality", "");
    if (quality == "incomplete")
      quality += " " + number(item.value("coverage", 0.0) * 100, 1) + " %";
    table.add({item.value("ref", ""), item.value("symbol", ""),
               value.is_string() ? value.get<std::string>() : number(value), item.value("unit", ""),
               quality, notes});
  }
  table.print(out, "no items");
  for (const auto& w : r.value("warnings", json::array()))
    out << "warning: " << w.get<std::string>() << '\n';
}

void print_communities(const json& r, std::ostream& out) {
  out << "Communities by " << r.value("group_by", "") << ", idle policy "
      << r.value("idle_policy", "") << "; facility energy " << number(r.at("facility_kwh"), 1)
      << " kWh\n\n";
  Table table(
      {"COMMUNITY", "NODE kWh", "FACILITY kWh", "CPU h", "OPERATIONAL kgCO2e", "EMBODIED kgCO2e"});
  for (const auto& t : r.at("totals")) {
    table.add({t.value("community", ""), number(t.at("node_kwh"), 1),
               number(t.at("facility_kwh"), 1), number(t.at("cpu_hours"), 1),
               number(t.at("operational_kgco2e"), 2), number(t.at("embodied_kgco2e"), 2)});
  }
  table.print(out, "no community used the facility's nodes");
  out << "idle " << number(r.at("idle_kwh"), 1) << " kWh, unallocated "
      << number(r.at("unallocated_kwh"), 1) << " kWh\n";
  for (const auto& m : r.value("missing_months", json::array()))
    out << "warning: no EDC reading for the month of " << m.get<std::string>() << '\n';
}

void print_federation(const json& r, std::ostream& out) {
  out << r.value("facilities", 0) << " facilities, " << r.value("in_scope_2024_1364", 0)
      << " in scope of Regulation (EU) 2024/1364\n\n";
  Table table({"SIZE CATEGORY", "FACILITIES", "EDC kWh", "PUE (EDC-weighted)", "PUE (pooled)",
               "WUE", "ERF", "REF"});
  for (const auto& c : r.at("categories")) {
    if (c.value("suppressed", false)) {
      table.add({c.value("size_category", ""), std::to_string(c.value("facilities", 0)),
                 "suppressed (< 3)", "", "", "", "", ""});
      continue;
    }
    const json& w = c.at("edc_weighted_average");
    table.add({c.value("size_category", ""), std::to_string(c.value("facilities", 0)),
               number(c.at("totals").at("edc_kwh"), 0), number(w.at("pue")),
               number(c.at("pooled_ratio").at("pue")), number(w.at("wue")), number(w.at("erf")),
               number(w.at("ref"))});
  }
  table.print(out, "no facility");
}

void print_facilities(const json& r, std::ostream& out) {
  Table table({"ID", "NAME", "LEGAL ENTITY", "TIME ZONE", "GRID", "SITES"});
  for (const auto& f : r.at("facilities")) {
    std::string sites;
    for (const auto& site : f.value("sites", json::array())) {
      sites += (sites.empty() ? "" : ",") + site.get<std::string>();
    }
    table.add({f.value("id", ""), f.value("name", ""), f.value("legal_entity", ""),
               f.value("time_zone", ""), f.value("grid_zone", ""), sites});
  }
  table.print(out, "no facility");
}

void print_check(const json& r, std::ostream& out) {
  Table table({"QUANTITY", "VALUE", "UNIT", "QUALITY", "COVERAGE", "READINGS", "GAPS"});
  for (const auto& q : r.at("quantities")) {
    std::string gaps;
    const auto& list = q.at("gaps");
    for (std::size_t i = 0; i < list.size() && i < 3; ++i)
      gaps += (i ? ", " : "") + list[i][0].get<std::string>() + "→" + list[i][1].get<std::string>();
    if (list.size() > 3) gaps += " (+" + std::to_string(list.size() - 3) + ")";
    table.add({q.value("quantity", ""), number(q.at("value")), q.value("unit", ""),
               q.value("quality", ""), number(q.value("coverage", 0.0) * 100, 1) + " %",
               std::to_string(q.value("readings", 0)), gaps});
  }
  table.print(out, "no quantity");
  for (const auto& o : r.value("overlaps", json::array())) {
    out << "overlap: " << o.value("quantity", "") << " reading "
        << o.at("dropped")[0].get<std::string>() << "→" << o.at("dropped")[1].get<std::string>()
        << " left out (overlaps one counted)\n";
  }
  for (const auto& m : r.value("resets", json::array())) {
    out << "reset: " << m.value("quantity", "") << " meter '" << m.value("meter", "")
        << "' went down at " << m.value("at", "") << '\n';
  }
}

// GETs `target`: the API's JSON when `json_output`, else `print`'s table.
int show(const Api& api, const std::string& target, bool json_output, std::ostream& out,
         void (*print)(const json&, std::ostream&)) {
  const ApiAnswer a = api(request("GET", target), {});
  if (json_output) {
    out << a.body.dump(2) << '\n';
  } else {
    print(a.body, out);
  }
  return 0;
}

// `vigie report <kind>`: the collector's CSV or HTML with --format, else as show().
int report(const Values& v, const std::string& kind, const Api& api, bool json_output,
           std::ostream& out, void (*print)(const json&, std::ostream&)) {
  const bool communities = kind == "communities";
  const std::string target = "/api/v1/reports/" + kind +
                             query({{"facility", v.facility},
                                    {"year", v.year},
                                    {"from", v.from},
                                    {"to", v.to},
                                    {"group_by", communities ? v.group_by : ""},
                                    {"idle", communities ? v.idle : ""},
                                    {"format", v.format == "table" ? "" : v.format}});
  if (v.format != "table") return write_file(api, target, v, out);
  return show(api, target, json_output, out, print);
}

}  // namespace

struct ReportCommands::Arguments {
  Values values;
  std::vector<std::pair<CLI::App*, Command>> commands;
};

ReportCommands::ReportCommands(CLI::App& app) : args_(std::make_unique<Arguments>()) {
  Values& v = args_->values;
  auto command = [this](CLI::App* parent, const char* name, const char* help, Command run) {
    CLI::App* cmd = parent->add_subcommand(name, help);
    args_->commands.emplace_back(cmd, std::move(run));
    return cmd;
  };
  auto add_period = [&v](CLI::App* cmd) {
    auto* year = cmd->add_option(
        "--year", v.year, "a calendar year in the facility's time zone (the regulation's period)");
    auto* from =
        cmd->add_option("--from", v.from, "start: 2025, 2025-04, 2025-04-01 (local) or RFC 3339");
    auto* to =
        cmd->add_option("--to", v.to, "end, exclusive: --from 2025-01 --to 2025-04 is a quarter");
    year->excludes(from)->excludes(to);
    from->needs(to);
    to->needs(from);
  };
  auto add_format = [&v](CLI::App* cmd) {
    cmd->add_option("--format", v.format, "table (default), csv or html (the printable page)")
        ->check(CLI::IsMember({"table", "csv", "html"}));
    cmd->add_option("-o,--output", v.output,
                    "write the CSV or HTML here instead of standard output");
  };

  auto* facility =
      app.add_subcommand("facility", "datacentres and machine rooms, and their meters");
  facility->require_subcommand(1);
  auto* add = command(
      facility, "add", "create or replace a facility from its JSON",
      [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
        const ApiAnswer a = api(request("POST", "/api/v1/facilities", read_all(v.file)), {});
        if (json_output) {
          out << a.body.dump(2) << '\n';
        } else {
          out << (a.status == 201 ? "created " : "replaced ") << a.body.value("id", "") << '\n';
        }
        return 0;
      });
  add->add_option("file", v.file, "the facility's JSON (- for standard input)")->required();
  command(facility, "list", "the facilities this collector holds",
          [](const Values&, const Api& api, bool json_output, std::ostream& out) {
            return show(api, "/api/v1/facilities", json_output, out, print_facilities);
          });
  auto* import = command(
      facility, "import", "add meter readings from CSV or JSON (the whole file or nothing)",
      [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
        const bool csv = v.file.ends_with(".csv") || v.format == "csv";
        const ApiAnswer a = api(request("POST", "/api/v1/facilities/" + v.facility + "/readings",
                                        read_all(v.file), csv ? "text/csv" : "application/json"),
                                {400});
        if (a.status == 400) {
          std::cerr << "vigie: " << a.body.value("error", "refused") << '\n';
          return kExitError;
        }
        if (json_output) {
          out << a.body.dump(2) << '\n';
        } else {
          out << a.body.value("received", 0) << " readings: " << a.body.value("added", 0)
              << " added, " << a.body.value("replaced", 0) << " replaced\n";
        }
        return 0;
      });
  import->add_option("facility", v.facility, "facility id")->required();
  import
      ->add_option("file", v.file,
                   "readings: .csv (quantity,from,to,value,unit,...) or .json (- for stdin)")
      ->required();
  import->add_option("--format", v.format, "csv or json (default: by the file's extension)")
      ->check(CLI::IsMember({"csv", "json"}));
  auto* check =
      command(facility, "check", "coverage, gaps, overlaps and meter resets over a period",
              [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
                return show(api,
                            "/api/v1/facilities/" + v.facility + "/check" +
                                query({{"year", v.year}, {"from", v.from}, {"to", v.to}}),
                            json_output, out, print_check);
              });
  check->add_option("facility", v.facility, "facility id")->required();
  add_period(check);

  auto* grid = app.add_subcommand("grid", "grid carbon intensity series");
  grid->require_subcommand(1);
  auto* grid_import = command(
      grid, "import", "import a series: RTE eCO2mix, ODRÉ, Electricity Maps or time,value CSV",
      [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
        const ApiAnswer a = api(request("POST",
                                        "/api/v1/grid/" + v.zone +
                                            query({{"basis", v.basis},
                                                   {"source", v.source},
                                                   {"version", v.version},
                                                   {"column", v.column}}),
                                        read_all(v.file), "text/csv"),
                                {});
        if (json_output) {
          out << a.body.dump(2) << '\n';
        } else {
          out << a.body.value("points", 0) << " points of " << v.zone << " (" << v.basis << "), "
              << a.body.value("from", "") << " → " << a.body.value("to", "") << '\n';
        }
        return 0;
      });
  grid_import->add_option("zone", v.zone, "grid zone, as facilities name it (FR)")->required();
  grid_import->add_option("file", v.file, "the CSV file (- for stdin)")->required();
  grid_import->add_option("--basis", v.basis, "direct or life-cycle")
      ->required()
      ->check(CLI::IsMember({"direct", "life-cycle"}));
  grid_import->add_option("--source", v.source,
                          "where it comes from (RTE eCO2mix, Electricity Maps)");
  grid_import->add_option("--version", v.version, "the data's version (default: today)");
  grid_import->add_option("--column", v.column,
                          "value column of a generic CSV; 'direct' or 'lca' for Electricity Maps");

  auto* report_cmd =
      app.add_subcommand("report", "sustainability reports (EU 2024/1364, ISO/IEC 30134)");
  report_cmd->require_subcommand(1);
  auto* datacentre = command(
      report_cmd, "datacentre", "a facility's Annex I-III information and KPIs over a period",
      [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
        return report(v, "datacentre", api, json_output, out, print_datacentre);
      });
  datacentre->add_option("facility", v.facility, "facility id")->required();
  add_period(datacentre);
  add_format(datacentre);
  auto* communities =
      command(report_cmd, "communities",
              "energy and carbon per Slurm account or project, adding up to the meter",
              [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
                return report(v, "communities", api, json_output, out, print_communities);
              });
  communities->add_option("facility", v.facility, "facility id")->required();
  add_period(communities);
  add_format(communities);
  communities->add_option("--group-by", v.group_by, "account or project (reports.projects)")
      ->check(CLI::IsMember({"account", "project"}));
  communities->add_option("--idle", v.idle, "separate or proportional")
      ->check(CLI::IsMember({"separate", "proportional"}));
  auto* federation =
      command(report_cmd, "federation", "Annex IV aggregates of every facility held here",
              [](const Values& v, const Api& api, bool json_output, std::ostream& out) {
                return show(api, "/api/v1/reports/federation" + query({{"year", v.year}}),
                            json_output, out, print_federation);
              });
  federation->add_option("--year", v.year, "the calendar year")->required();
}

ReportCommands::~ReportCommands() = default;

bool ReportCommands::parsed() const {
  for (const auto& [cmd, run] : args_->commands) {
    if (cmd->parsed()) return true;
  }
  return false;
}

int ReportCommands::run(const Api& api, bool json_output, std::ostream& out) const {
  for (const auto& [cmd, command] : args_->commands) {
    if (!cmd->parsed()) continue;
    try {
      return command(args_->values, api, json_output, out);
    } catch (const json::exception& e) {
      std::cerr << "vigie: unexpected answer from the collector: " << e.what() << '\n';
      return kExitError;
    }
  }
  return 0;
}

}  // namespace vigie::cli
