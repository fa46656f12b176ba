// Fuzzes the pure text parsers of what the agent reads from /proc and cgroupfs
// (a container or job can shape mount points and cgroup names):
// power::parse_proc_stat, workload::parse_mountinfo, workload::classify and
// the enum parsers used on configuration and wire values. Every parser sees
// the whole input, so one seed corpus serves all of them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/power/attribution.h"
#include "vigie/power/proc_stat.h"
#include "vigie/protocol/event.h"
#include "vigie/workload/classify.h"
#include "vigie/workload/layout.h"

using vigie::fuzz::check;
namespace protocol = vigie::protocol;
namespace workload = vigie::workload;

namespace {

bool is_hex64(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_decimal(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void check_mounts(const workload::CgroupMounts& m) {
  using workload::CgroupLayout;
  const bool v2 = !m.v2_root.empty(), v1 = !m.v1.empty();
  const CgroupLayout want = v2 && v1 ? CgroupLayout::kHybrid
                            : v2     ? CgroupLayout::kV2
                            : v1     ? CgroupLayout::kV1
                                     : CgroupLayout::kNone;
  check(m.layout == want, "parse_mountinfo: layout disagrees with the mounts found");
}

void check_workload(std::string_view path, const protocol::Workload& w) {
  // The input, made absolute.
  const bool absolute = !path.empty() && path.front() == '/';
  check(w.cgroup_path == (absolute ? std::string(path) : "/" + std::string(path)),
        "classify: cgroup_path is not the input");
  check(!w.id.empty(), "classify: empty workload id");
  check(w.user.empty() || is_decimal(w.user), "classify: user is not a decimal uid");
  switch (w.kind) {
    case protocol::WorkloadKind::kHost:
      check(w.id == "host", "classify: host workload with id " + w.id);
      break;
    case protocol::WorkloadKind::kContainer:
      check(is_hex64(w.id), "classify: container id is not 64 hex digits: " + w.id);
      break;
    case protocol::WorkloadKind::kSlurmJob:
      check(is_decimal(w.id), "classify: Slurm job id is not decimal: " + w.id);
      break;
    case protocol::WorkloadKind::kSystemdUnit:
      check(path.find(w.id) != std::string_view::npos, "classify: unit id not in the path");
      break;
    case protocol::WorkloadKind::kUnattributed:
      vigie::fuzz::finding("classify returned kUnattributed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto times = vigie::power::parse_proc_stat(text)) {
    (void)vigie::power::ticks_to_usec(times->busy_ticks + times->idle_ticks);
  }

  check_mounts(workload::parse_mountinfo(text));

  check_workload(text, workload::classify(text));
  // /proc/<pid>/cgroup lines are "<id>:<controllers>:<path>": classify each path.
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    const size_t colon = line.find(':', line.find(':') + 1);
    if (colon != std::string_view::npos && line.find(':') != std::string_view::npos) {
      const std::string_view path = line.substr(colon + 1);
      check_workload(path, workload::classify(path));
    }
    start = end + 1;
  }

  protocol::WorkloadKind kind;
  if (protocol::parse_workload_kind(text, kind)) {
    check(protocol::to_string(kind) == text, "parse_workload_kind does not round-trip");
  }
  protocol::EventKind event_kind;
  if (protocol::parse_event_kind(text, event_kind)) {
    check(protocol::to_string(event_kind) == text, "parse_event_kind does not round-trip");
  }
  vigie::power::IdlePolicy policy;
  (void)vigie::power::parse_idle_policy(text, policy);
  return 0;
}
