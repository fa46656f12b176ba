#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "vigie/sustainability/meter.h"
#include "vigie/sustainability/time.h"

namespace vigie::sustainability {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  const auto last = s.find_last_not_of(" \t\r");
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

// The fields of one reading, as text, from either format.
struct Fields {
  std::string quantity, from, to, at, value, unit, basis, meter, source, kind;
};

Reading reading_of(const Fields& f) {
  const auto q = parse_quantity(f.quantity);
  if (!q)
    throw InputError("quantity '" + f.quantity + "' is not one of Annex II's (EDC, EIT, WIN, ...)");
  Reading r{.quantity = *q, .meter = f.meter, .source = f.source};
  const std::string kind = lower(f.kind);
  if (kind == "cumulative" || (kind.empty() && !f.at.empty())) {
    r.cumulative = true;
  } else if (!kind.empty() && kind != "interval") {
    throw InputError("kind '" + f.kind + "' must be interval or cumulative");
  }
  if (r.cumulative) {
    if (f.at.empty() && f.to.empty()) throw InputError("a cumulative index needs 'at'");
    r.end_s = parse_time(f.at.empty() ? f.to : f.at, "at");
  } else {
    if (f.from.empty() || f.to.empty())
      throw InputError("an interval reading needs 'from' and 'to'");
    r.start_s = parse_time(f.from, "from");
    r.end_s = parse_time(f.to, "to");
  }
  std::string value = f.value;
  std::replace(value.begin(), value.end(), ',', '.');  // a decimal comma
  char* end = nullptr;
  r.value = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size()) {
    throw InputError("value '" + f.value + "' is not a number");
  }
  if (!f.unit.empty()) r.value = to_report_unit(r.quantity, r.value, f.unit);
  if (!f.basis.empty()) {
    const auto basis = parse_basis(f.basis);
    if (!basis) throw InputError("basis '" + f.basis + "' must be measured, bill or estimated");
    r.basis = *basis;
  }
  check(r);
  return r;
}

[[noreturn]] void refuse(const std::vector<std::string>& errors) {
  std::string message = std::to_string(errors.size()) + " bad reading(s), none stored:";
  for (const auto& e : errors) message += "\n" + e;
  throw InputError(message);
}

std::string text_of(const json& item, const char* key) {
  const auto it = item.find(key);
  if (it == item.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  throw InputError(std::string(key) + ": must be a string or a number");
}

}  // namespace

std::vector<std::vector<std::string>> parse_csv_rows(std::string_view text, char separator) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  const auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    if (any || row.size() > 1 || !row.front().empty()) rows.push_back(std::move(row));
    row.clear();
    any = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == separator) {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      end_row();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted) throw InputError("CSV: a quoted field is not closed");
  if (!field.empty() || !row.empty()) end_row();
  return rows;
}

std::vector<Reading> parse_readings_json(std::string_view text) {
  const json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) throw InputError("the body is not JSON");
  const json* list = &body;
  if (body.is_object()) {
    if (!body.contains("readings") || body.size() != 1) {
      throw InputError("a JSON body is {\"readings\": [...]} or a list of readings");
    }
    list = &body["readings"];
  }
  if (!list->is_array()) throw InputError("readings: must be a list");
  std::vector<Reading> out;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    try {
      if (!item.is_object()) throw InputError("a reading is a JSON object");
      static const std::vector<std::string> kKeys = {"quantity", "from", "to",        "at",
                                                     "value",    "unit", "basis",     "meter",
                                                     "source",   "kind", "cumulative"};
      for (const auto& [key, v] : item.items()) {
        if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
          throw InputError(key + ": unknown key");
      }
      Fields f{text_of(item, "quantity"), text_of(item, "from"),  text_of(item, "to"),
               text_of(item, "at"),       text_of(item, "value"), text_of(item, "unit"),
               text_of(item, "basis"),    text_of(item, "meter"), text_of(item, "source"),
               text_of(item, "kind")};
      if (const auto c = item.find("cumulative"); c != item.end()) {
        if (!c->is_boolean()) throw InputError("cumulative: must be true or false");
        if (c->get<bool>()) f.kind = "cumulative";
      }
      out.push_back(reading_of(f));
    } catch (const InputError& e) {
      errors.push_back("reading " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  if (!errors.empty()) refuse(errors);
  return out;
}

std::vector<Reading> parse_readings_csv(std::string_view text) {
  const auto first_line = text.substr(0, text.find('\n'));
  const char separator = std::count(first_line.begin(), first_line.end(), ';') >
                                 std::count(first_line.begin(), first_line.end(), ',')
                             ? ';'
                             : ',';
  const auto rows = parse_csv_rows(text, separator);
  if (rows.empty()) throw InputError("CSV: no header");
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < rows[0].size(); ++i) {
    const std::string name = lower(trim(rows[0][i]));
    static const std::vector<std::string> kColumns = {
        "quantity", "from", "to", "at", "value", "unit", "basis", "meter", "source", "kind"};
    if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end()) {
      throw InputError("CSV: unknown column '" + name +
                       "' (quantity, from, to, at, value, unit, basis, meter, source, kind)");
    }
    column[name] = i;
  }
  if (!column.contains("quantity") || !column.contains("value")) {
    throw InputError("CSV: the header must name quantity and value");
  }
  std::vector<Reading> out;
  std::vector<std::string> errors;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto cell = [&](const char* name) -> std::string {
      const auto it = column.find(name);
      return it == column.end() || it->second >= rows[r].size() ? std::string()
                                                                : trim(rows[r][it->second]);
    };
    try {
      out.push_back(
          reading_of({cell("quantity"), cell("from"), cell("to"), cell("at"), cell("value"),
                      cell("unit"), cell("basis"), cell("meter"), cell("source"), cell("kind")}));
    } catch (const InputError& e) {
      errors.push_back("line " + std::to_string(r + 1) + ": " + e.what());
    }
  }
  if (!errors.empty()) refuse(errors);
  return out;
}

}  // namespace vigie::sustainability
