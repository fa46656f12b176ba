#include "table.h"

#include <algorithm>
#include <cstdio>

namespace vigie::cli {
namespace {

// Display width, counting UTF-8 code points.
std::size_t width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The first `count` code points of `text`.
std::string prefix(const std::string& text, std::size_t count) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && seen++ == count)
      return text.substr(0, i);
  }
  return text;
}

}  // namespace

// Command lines, images and user names come from monitored machines: their
// control characters (C0, DEL and UTF-8-encoded C1) are shown escaped, never
// sent to the operator's terminal, where they could rewrite the screen or the
// window title.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  char escaped[8];
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == 0x1b) {
      out += "\\e";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      std::snprintf(escaped, sizeof escaped, "\\u%04x", next);
      out += escaped;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) {
    cell = printable(cell);
    if (width(cell) > kMaxCell) cell = prefix(cell, kMaxCell - 1) + "…";
  }
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out, const std::string& empty) const {
  if (rows_.empty()) {
    out << empty << '\n';
    return;
  }
  std::vector<std::size_t> widths(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) {
    widths[c] = width(header_[c]);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      text += cells[c];
      if (c + 1 < cells.size()) text += std::string(widths[c] - width(cells[c]) + 2, ' ');
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out << text << '\n';
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

}  // namespace vigie::cli
