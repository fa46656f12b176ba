// Aligned plain-text tables for the CLI's human output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace vigie::cli {

// `text` with its control characters escaped as Table escapes cells, for
// lines printed outside a table.
std::string printable(const std::string& text);

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // Control characters are escaped (ESC as \e, tab, newline, others as \xNN,
  // C1 as \u00NN); cells longer than kMaxCell code points are then cut with
  // "…" (--json has them whole).
  void add(std::vector<std::string> row);
  // Prints the header and rows, columns two spaces apart; `empty` when there are no rows.
  void print(std::ostream& out, const std::string& empty) const;

  static constexpr std::size_t kMaxCell = 80;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vigie::cli
