#include "vigie/csirt/incident.h"

#include <sys/random.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace vigie::csirt {

using protocol::fail;

namespace {

constexpr std::array kStates = {
    std::pair{State::kSuspected, std::string_view("suspected")},
    std::pair{State::kReported, std::string_view("reported")},
    std::pair{State::kContained, std::string_view("contained")},
    std::pair{State::kInvestigating, std::string_view("investigating")},
    std::pair{State::kResolved, std::string_view("resolved")},
    std::pair{State::kClosed, std::string_view("closed")},
    std::pair{State::kFalsePositive, std::string_view("false_positive")},
    std::pair{State::kMerged, std::string_view("merged")},
};
constexpr std::array kSeverities = {
    std::pair{Severity::kLow, std::string_view("low")},
    std::pair{Severity::kMedium, std::string_view("medium")},
    std::pair{Severity::kHigh, std::string_view("high")},
    std::pair{Severity::kCritical, std::string_view("critical")},
};

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                             std::string_view text) {
  for (const auto& [e, name] : names) {
    if (name == text) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(State state) { return name_of(kStates, state); }
std::optional<State> parse_state(std::string_view text) { return value_of(kStates, text); }
std::string_view to_string(Severity severity) { return name_of(kSeverities, severity); }
std::optional<Severity> parse_severity(std::string_view text) {
  return value_of(kSeverities, text);
}

bool is_open(State state) {
  return state != State::kClosed && state != State::kFalsePositive && state != State::kMerged;
}

bool transition_allowed(State from, State to) {
  if (!is_open(from) || from == to) return false;
  if (to == State::kFalsePositive || to == State::kMerged) return true;
  // One step along suspected → reported → contained → investigating → resolved → closed.
  return static_cast<int>(to) == static_cast<int>(from) + 1;
}

protocol::Result<void, TransitionError> transition(Incident& incident, State to,
                                                   std::string_view reason, uint64_t now_ns,
                                                   std::string_view merged_into) {
  using Code = TransitionError::Code;
  if (!transition_allowed(incident.state, to)) {
    std::string message = "an incident in state '" + std::string(to_string(incident.state)) +
                          "' cannot move to '" + std::string(to_string(to)) + "'";
    if (!is_open(incident.state)) message += ": '" + std::string(to_string(incident.state)) +
                                             "' is final";
    return fail(TransitionError{Code::kNotAllowed, std::move(message)});
  }
  if (reason.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return fail(TransitionError{Code::kBadRequest, "a state change needs a reason"});
  if (to == State::kMerged && merged_into.empty())
    return fail(TransitionError{Code::kBadRequest, "merged needs the incident it is merged into"});
  if (to == State::kMerged && (merged_into == incident.id || merged_into == incident.uuid))
    return fail(TransitionError{Code::kBadRequest, "an incident cannot be merged into itself"});
  auto mark = [now_ns](uint64_t& time) {
    if (time == 0) time = now_ns;
  };
  if (to == State::kReported) mark(incident.times.reported_ns);
  if (to == State::kContained) mark(incident.times.contained_ns);
  if (to == State::kResolved) mark(incident.times.resolved_ns);
  if (to == State::kClosed) mark(incident.times.closed_ns);
  if (to == State::kMerged) incident.merged_into = std::string(merged_into);
  incident.state = to;
  return {};
}

std::string incident_id(std::string_view site, int year, uint64_t number) {
  std::string prefix;
  for (char c : site) {
    const auto u = static_cast<unsigned char>(c);
    prefix += std::isalnum(u) && u < 0x80 ? static_cast<char>(std::tolower(u)) : '-';
  }
  if (prefix.empty()) prefix = "site";
  char tail[48];
  std::snprintf(tail, sizeof tail, "-%04d-%04llu", year, static_cast<unsigned long long>(number));
  return prefix + tail;
}

std::string new_uuid() {
  std::array<unsigned char, 16> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace vigie::csirt
