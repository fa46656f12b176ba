#include "vigie/workload/classify.h"

#include <array>
#include <vector>

namespace vigie::workload {
namespace {

using protocol::Workload;
using protocol::WorkloadKind;

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// "<prefix><digits><suffix>" -> the digits, or empty.
std::string_view number_between(std::string_view s, std::string_view prefix,
                                std::string_view suffix = {}) {
  if (!s.starts_with(prefix) || !s.ends_with(suffix) || s.size() < prefix.size() + suffix.size())
    return {};
  auto digits = s.substr(prefix.size(), s.size() - prefix.size() - suffix.size());
  return all_digits(digits) ? digits : std::string_view{};
}

bool is_container_id(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string_view container_id(std::string_view component) {
  if (is_container_id(component)) return component;
  static constexpr std::array<std::string_view, 4> kPrefixes = {"docker-", "libpod-",
                                                                "cri-containerd-", "crio-"};
  if (!component.ends_with(".scope")) return {};
  auto stem = component.substr(0, component.size() - 6);
  for (auto prefix : kPrefixes) {
    if (stem.starts_with(prefix) && is_container_id(stem.substr(prefix.size())))
      return stem.substr(prefix.size());
  }
  return {};
}

bool is_uuid(std::string_view s, char dash) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen ? c != dash : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The pod uid of a kubelet pod cgroup: "pod<uid>" (cgroupfs driver) or
// "kubepods[-<qos>]-pod<uid with _ for ->.slice" (systemd driver); else empty.
std::string pod_uid(std::string_view component) {
  if (component.starts_with("pod") && is_uuid(component.substr(3), '-'))
    return std::string(component.substr(3));
  if (!component.starts_with("kubepods") || !component.ends_with(".slice")) return {};
  size_t pos = component.rfind("-pod");
  if (pos == std::string_view::npos) return {};
  auto uid = component.substr(pos + 4, component.size() - pos - 4 - 6);
  if (!is_uuid(uid, '_')) return {};
  std::string out(uid);
  for (auto& c : out)
    if (c == '_') c = '-';
  return out;
}

// "step_<S>" -> S ("0", "batch", "extern", "interactive"), else empty.
std::string_view slurm_step(std::string_view component) {
  if (!component.starts_with("step_") || component.size() == 5 || component.size() > 40) return {};
  auto step = component.substr(5);
  for (char c : step)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_')) return {};
  return step;
}

bool is_unit(std::string_view component) {
  static constexpr std::array<std::string_view, 5> kSuffixes = {".service", ".scope", ".socket",
                                                                ".mount", ".swap"};
  for (auto suffix : kSuffixes)
    if (component.size() > suffix.size() && component.ends_with(suffix)) return true;
  return false;
}

// "<name>" or "<node>_<name>" with a non-empty node name (multiple-slurmd nodes).
bool is_slurm_v1_root(std::string_view c) {
  return c == "slurm" || (c.starts_with("slurm_") && c.size() > 6);
}

bool is_slurmstepd_scope(std::string_view c) {
  constexpr std::string_view kScope = "_slurmstepd.scope";
  return c == kScope.substr(1) || (c.ends_with(kScope) && c.size() > kScope.size());
}

}  // namespace

Workload classify(std::string_view cgroup_path) {
  Workload w;
  w.cgroup_path = cgroup_path.empty() || cgroup_path.front() != '/' ? "/" + std::string(cgroup_path)
                                                                    : std::string(cgroup_path);
  auto parts = components(cgroup_path);

  // Anchored at the hierarchy root: below it, a user's delegated subtree
  // (user@<U>.service on v2) could mimic these names to pose as another job.
  if (parts.size() >= 3 && is_slurm_v1_root(parts[0])) {
    auto uid = number_between(parts[1], "uid_");
    auto job = number_between(parts[2], "job_");
    if (!uid.empty() && !job.empty()) {
      w.kind = WorkloadKind::kSlurmJob;
      w.id = std::string(job);
      w.user = std::string(uid);
      if (parts.size() >= 4) w.step = std::string(slurm_step(parts[3]));
      return w;
    }
  }
  if (parts.size() >= 3 && parts[0] == "system.slice" && is_slurmstepd_scope(parts[1])) {
    auto job = number_between(parts[2], "job_");
    if (!job.empty()) {
      w.kind = WorkloadKind::kSlurmJob;
      w.id = std::string(job);
      if (parts.size() >= 4) w.step = std::string(slurm_step(parts[3]));
      return w;
    }
  }

  std::string pod;
  for (auto part : parts) {
    if (pod.empty()) pod = pod_uid(part);
    auto id = container_id(part);
    if (!id.empty()) {
      w.kind = WorkloadKind::kContainer;
      w.id = std::string(id);
      w.pod_uid = pod;
      return w;
    }
  }
  if (!pod.empty()) {
    w.kind = WorkloadKind::kKubernetesPod;
    w.id = pod;
    w.pod_uid = pod;
    return w;
  }

  for (size_t i = parts.size(); i-- > 0;) {
    if (!is_unit(parts[i])) continue;
    w.kind = WorkloadKind::kSystemdUnit;
    w.id = std::string(parts[i]);
    for (size_t j = 0; j < i; ++j) {
      auto uid = number_between(parts[j], "user-", ".slice");
      if (!uid.empty()) w.user = std::string(uid);
    }
    return w;
  }
  return w;
}

}  // namespace vigie::workload
