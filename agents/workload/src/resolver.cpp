#include "vigie/workload/resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <span>
#include <utility>

#include "vigie/workload/classify.h"
#include "vigie/workload/procfs.h"

namespace vigie::workload {
namespace {

using protocol::Workload;
using protocol::WorkloadKind;

// Bounds on untrusted trees: cgroup2 allows 2^31 levels in theory; real ones have < 16.
constexpr int kMaxDepth = 32;
constexpr size_t kMaxIndexEntries = 1 << 20;
constexpr size_t kMaxJobOwners = 1 << 16;
constexpr size_t kMaxPidEntries = 1 << 16;
constexpr uint64_t kMaxCpus = 1 << 20;
constexpr size_t kMaxWatched = 1 << 16;

std::string join(const std::string& root, std::string_view rel) {
  return rel == "/" ? root : root + std::string(rel);
}

// Calls fn(name, inode) for each subdirectory of `dir`; false when `dir` cannot be opened.
template <typename Fn>
bool for_each_subdir(const std::string& dir, Fn&& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    uint64_t inode = e->d_ino;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir =
          ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      inode = st.st_ino;
    }
    if (is_dir) fn(name, inode);
  }
  ::closedir(d);
  return true;
}

// cgroup2 cpu.stat "usage_usec <µs>" line, or v1 cpuacct.usage (ns).
std::optional<uint64_t> parse_usage_usec(std::string_view s, bool v2) {
  if (!v2) {
    auto ns = parse_u64(s);
    return ns ? std::optional<uint64_t>(*ns / 1000) : std::nullopt;
  }
  constexpr std::string_view kKey = "usage_usec ";
  size_t pos = s.starts_with(kKey) ? 0 : s.find("\nusage_usec ");
  if (pos == std::string_view::npos) return std::nullopt;
  s.remove_prefix(pos + (pos == 0 ? 0 : 1) + kKey.size());
  return parse_u64(s.substr(0, s.find('\n')));
}

// Reads a counter file from its start. nullopt on error, with errno set
// (ENODEV: kernfs's answer for a file of a removed cgroup).
std::optional<std::string_view> pread_all(int fd, std::span<char> buf) {
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    if (n >= 0) return std::string_view(buf.data(), static_cast<size_t>(n));
    if (errno != EINTR) return std::nullopt;
  }
}

std::optional<uint32_t> process_uid(const std::string& proc_root, uint64_t pid) {
  auto status = read_file(proc_root + "/" + std::to_string(pid) + "/status", 16384);
  if (!status) return std::nullopt;
  size_t pos = status->find("\nUid:");
  if (pos == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*status).substr(pos + 5);
  rest = rest.substr(0, rest.find_first_of("\t\n", rest.find_first_not_of(" \t")));
  auto uid = parse_u64(rest);
  return uid && *uid <= UINT32_MAX ? std::optional<uint32_t>(*uid) : std::nullopt;
}

struct Member {
  uint32_t uid = 0;
  uint64_t pid = 0;
};

// A process of a Slurm job to learn its owner and account from: slurmstepd
// creates job_<J> as root, so a non-root process in the job, else any process
// in it (the caller falls back to the directory's owner).
std::optional<Member> job_member(const std::string& job_dir, const std::string& proc_root,
                                 int depth = 0) {
  std::optional<Member> any;
  if (auto procs = read_file(job_dir + "/cgroup.procs", 1 << 16)) {
    std::string_view s = *procs;
    while (!s.empty()) {
      auto line = s.substr(0, s.find('\n'));
      s.remove_prefix(std::min(s.size(), line.size() + 1));
      auto pid = parse_u64(line);
      auto uid = pid ? process_uid(proc_root, *pid) : std::nullopt;
      if (uid && *uid != 0) return Member{*uid, *pid};
      if (uid && !any) any = Member{*uid, *pid};
    }
  }
  if (depth < 4) {
    for_each_subdir(job_dir, [&](std::string_view name, uint64_t) {
      if (any && any->uid != 0) return;
      auto m = job_member(job_dir + "/" + std::string(name), proc_root, depth + 1);
      if (m && (!any || m->uid != 0)) any = m;
    });
  }
  return any;
}

// SLURM_JOB_ACCOUNT from the environment slurmstepd gave a job's process
// (sbatch(1) "OUTPUT ENVIRONMENT VARIABLES"): read on the node, no slurmctld query.
std::string process_account(const std::string& proc_root, uint64_t pid) {
  auto env = read_file(proc_root + "/" + std::to_string(pid) + "/environ", 1 << 18);
  if (!env) return {};
  constexpr std::string_view kKey = "SLURM_JOB_ACCOUNT=";
  std::string_view e = *env;
  for (size_t pos = 0; pos < e.size();) {
    size_t end = e.find('\0', pos);
    auto var = e.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (var.starts_with(kKey)) return std::string(var.substr(kKey.size(), 256));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return {};
}

// Counts the CPUs of a cpuset(7) list ("0-3,8,10-11"; empty: none); nullopt when malformed.
std::optional<uint32_t> count_cpu_list(std::string_view list) {
  while (!list.empty() && (list.back() == '\n' || list.back() == ' ')) list.remove_suffix(1);
  uint64_t count = 0;
  while (!list.empty()) {
    auto item = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), item.size() + 1));
    size_t dash = item.find('-');
    auto first = parse_u64(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : parse_u64(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last - *first >= kMaxCpus) return std::nullopt;
    count += *last - *first + 1;
    if (count > kMaxCpus) return std::nullopt;
  }
  return static_cast<uint32_t>(count);
}

}  // namespace

Resolver::Resolver(CgroupMounts mounts, ResolverOptions options)
    : mounts_(std::move(mounts)), options_(std::move(options)) {
  size_t files = options_.max_open_files;
  if (files == 0) {
    rlimit limit{};
    files = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                ? limit.rlim_cur / 2
                : 1 << 17;
  }
  max_watched_ = std::min<size_t>(files / 2, kMaxWatched);
}

void Resolver::fill_user(Workload& w, const std::string& hierarchy_root, uint32_t pid) {
  std::optional<uint32_t> path_uid;
  if (auto uid = parse_u64(w.user); uid && *uid <= UINT32_MAX)
    path_uid = static_cast<uint32_t>(*uid);
  if (w.kind != WorkloadKind::kSlurmJob) {
    if (path_uid) w.user = users_.name(*path_uid);
    return;
  }
  std::string job = "/job_" + w.id;
  size_t pos = w.cgroup_path.find(job + "/");
  if (pos == std::string::npos) pos = w.cgroup_path.rfind(job);
  if (pos == std::string::npos) return;
  std::string job_dir = hierarchy_root + w.cgroup_path.substr(0, pos + job.size());
  std::optional<uint32_t> uid = path_uid;
  struct stat st {};
  if (::stat(job_dir.c_str(), &st) != 0) {
    if (pid != 0) {
      if (!uid) uid = process_uid(options_.proc_root, pid);
      w.account = process_account(options_.proc_root, pid);
    }
  } else if (auto it = job_owners_.find(job_dir);
             it != job_owners_.end() && it->second.inode == st.st_ino) {
    it->second.scan = scans_;
    uid = it->second.uid;
    w.account = it->second.account;
  } else {
    auto member = job_member(job_dir, options_.proc_root);
    if (!uid && member) uid = member->uid;
    // Only a user's process settles it: until one runs, the job may hold just
    // slurmstepd (root), and the directory is root's. A job re-created at the
    // same path has another inode and is read again.
    if (member && member->uid != 0) {
      w.account = process_account(options_.proc_root, member->pid);
      if (job_owners_.size() >= kMaxJobOwners) job_owners_.clear();
      job_owners_.insert_or_assign(job_dir, JobOwner{st.st_ino, *uid, scans_, w.account});
    }
    if (!uid) uid = st.st_uid;
  }
  if (uid) w.user = users_.name(*uid);
}

uint32_t Resolver::allocated_cpus(const std::string& root, const std::string& rel, bool v2) const {
  std::string file;
  if (v2) {
    file = join(root, rel) + "/cpuset.cpus.effective";
  } else if (auto cpuset = mounts_.v1.find("cpuset"); cpuset != mounts_.v1.end()) {
    file = join(cpuset->second, rel) + "/cpuset.cpus";
  } else {
    return 0;
  }
  auto text = read_file(file, 1 << 16);
  auto count = text ? count_cpu_list(*text) : std::nullopt;
  return count.value_or(0);
}

void Resolver::rebuild_index() {
  ++stats_.index_rebuilds;
  last_rebuild_ = std::chrono::steady_clock::now();
  indexed_ = true;
  index_.clear();
  cache_.clear();
  struct stat st {};
  if (::stat(mounts_.v2_root.c_str(), &st) != 0) {
    ++stats_.read_errors;
    return;
  }
  index_.emplace(st.st_ino, "/");
  auto walk = [&](auto& self, const std::string& rel, int depth) -> void {
    if (depth >= kMaxDepth) return;
    std::string dir = join(mounts_.v2_root, rel);
    for_each_subdir(dir, [&](std::string_view name, uint64_t) {
      if (index_.size() >= kMaxIndexEntries) return;
      std::string child = (rel == "/" ? "/" : rel + "/") + std::string(name);
      struct stat cst {};
      if (::stat(join(mounts_.v2_root, child).c_str(), &cst) != 0) return;  // removed meanwhile
      index_.emplace(cst.st_ino, child);
      self(self, child, depth + 1);
    });
  };
  walk(walk, "/", 0);
}

Workload Resolver::resolve(uint64_t cgroup_id, uint32_t pid) {
  std::string v2_path;
  if (!mounts_.v2_root.empty() && cgroup_id != 0) {
    if (auto c = cache_.find(cgroup_id); c != cache_.end()) {
      ++stats_.cache_hits;
      return c->second;
    }
    auto it = index_.find(cgroup_id);
    if (it == index_.end() && (!indexed_ || std::chrono::steady_clock::now() - last_rebuild_ >=
                                                options_.min_rebuild_interval)) {
      rebuild_index();
      it = index_.find(cgroup_id);
    }
    if (it != index_.end()) {
      Workload w = classify(it->second);
      if (w.kind != WorkloadKind::kHost || mounts_.layout == CgroupLayout::kV2) {
        fill_user(w, mounts_.v2_root, pid);
        cache_.emplace(cgroup_id, w);
        return w;
      }
      v2_path = it->second;
    }
  }
  if (pid != 0) {
    if (auto p = by_pid_.find(pid); p != by_pid_.end()) {
      ++stats_.pid_cache_hits;
      return p->second;
    }
  }
  Workload w = from_proc(pid, v2_path);
  if (pid != 0) {
    // Bounded: a missed forget() (a lost exit event) must not grow it forever.
    if (by_pid_.size() >= kMaxPidEntries) by_pid_.clear();
    by_pid_.emplace(pid, w);
  }
  return w;
}

Workload Resolver::from_proc(uint32_t pid, const std::string& v2_path) {
  Workload host = classify(v2_path.empty() ? "/" : v2_path);
  if (pid == 0) return host;
  auto text = read_file(options_.proc_root + "/" + std::to_string(pid) + "/cgroup", 1 << 16);
  if (!text) {
    ++stats_.read_errors;  // usually a process that already exited
    return host;
  }
  ++stats_.proc_fallbacks;
  // (rank, hierarchy mount, path): cpuacct, then memory, then other v1, then v2.
  std::vector<std::tuple<int, std::string, std::string>> candidates;
  std::string_view s = *text;
  while (!s.empty()) {
    auto line = s.substr(0, s.find('\n'));
    s.remove_prefix(std::min(s.size(), line.size() + 1));
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (path.empty() || path.front() != '/') continue;
    if (controllers.empty()) {
      if (!mounts_.v2_root.empty()) candidates.emplace_back(3, mounts_.v2_root, path);
      continue;
    }
    int rank = 2;
    std::string mount;
    size_t start = 0;
    while (start <= controllers.size()) {
      size_t end = std::min(controllers.find(',', start), controllers.size());
      std::string controller(controllers.substr(start, end - start));
      if (auto m = mounts_.v1.find(controller); m != mounts_.v1.end() && mount.empty())
        mount = m->second;
      if (controller == "cpuacct") rank = 0;
      if (controller == "memory" && rank > 1) rank = 1;
      start = end + 1;
    }
    if (!mount.empty()) candidates.emplace_back(rank, mount, path);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  for (auto& [rank, mount, path] : candidates) {
    Workload w = classify(path);
    if (w.kind == WorkloadKind::kHost) continue;
    fill_user(w, mount, pid);
    return w;
  }
  return host;
}

Resolver::Watched Resolver::watch(const std::string& dir, size_t root_len, uint64_t inode,
                                  bool v2) {
  const std::string rel = dir.size() == root_len ? std::string("/") : dir.substr(root_len);
  const std::string root = dir.substr(0, root_len);
  Watched w;
  w.inode = inode;
  w.workload = classify(rel);
  const auto kind = w.workload.kind;
  w.host = kind == WorkloadKind::kHost;
  if (w.host) return w;
  w.container_of_others =
      kind == WorkloadKind::kSystemdUnit || kind == WorkloadKind::kKubernetesPod;
  w.usage =
      UniqueFd(::open((dir + (v2 ? "/cpu.stat" : "/cpuacct.usage")).c_str(), O_RDONLY | O_CLOEXEC));
  if (auto file = memory_file(root, rel, v2); !file.empty())
    w.memory = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  fill_user(w.workload, root, 0);
  if (kind == WorkloadKind::kSlurmJob) w.allocated_cpus = allocated_cpus(root, rel, v2);
  return w;
}

Resolver::Usage Resolver::scan_dir(std::string& dir, size_t root_len, uint64_t inode, bool v2,
                                   int depth, CpuScan& scan) {
  if (depth >= kMaxDepth) return {};
  auto it = watched_.find(std::string_view(dir));
  if (it != watched_.end() && it->second.inode != inode) {  // re-created at the same path
    watched_.erase(it);
    it = watched_.end();
  }
  Watched unwatched;  // over max_watched_: read now, closed on return
  Watched* w = nullptr;
  if (it != watched_.end()) {
    w = &it->second;
  } else {
    unwatched = watch(dir, root_len, inode, v2);
    // A counter that cannot be opened is not kept: opened again next scan.
    if (watched_.size() < max_watched_ && (unwatched.host || unwatched.usage))
      w = &watched_.emplace(dir, std::move(unwatched)).first->second;
    else
      w = &unwatched;
  }
  w->scan = scans_;
  auto children = [&] {
    Usage sum;
    const size_t len = dir.size();
    for_each_subdir(dir, [&](std::string_view name, uint64_t child_inode) {
      dir.append("/").append(name);
      Usage u = scan_dir(dir, root_len, child_inode, v2, depth + 1, scan);
      dir.resize(len);
      sum.cpu_usec += u.cpu_usec;
      sum.memory_bytes += u.memory_bytes;
    });
    return sum;
  };
  if (w->host) return children();

  std::array<char, 4096> buf;
  std::optional<uint64_t> usage;
  if (w->usage) {
    auto text = pread_all(w->usage.get(), buf);
    if (!text && (errno == ENODEV || errno == ENOENT)) {
      ++stats_.cgroups_vanished;  // removed since readdir: it ended
      // Only the address of the moved-from object is compared.
      if (w != &unwatched)  // NOLINT(bugprone-use-after-move)
        watched_.erase(watched_.find(std::string_view(dir)));
      return {};
    }
    if (text) usage = parse_usage_usec(*text, v2);
  }
  if (!usage) {
    ++scan.errors;
    ++stats_.read_errors;
    return w->container_of_others ? children() : Usage{};
  }
  if (w->memory && (w->memory_scan == 0 ||
                    scans_ - w->memory_scan >= std::max(options_.memory_every_scans, 1u))) {
    auto text = pread_all(w->memory.get(), buf);
    auto bytes = text ? parse_u64(*text) : std::nullopt;
    w->memory_bytes = bytes.value_or(0);
    w->memory_scan = scans_;
  }
  Usage own{*usage, w->memory_bytes};
  if (w->workload.kind == WorkloadKind::kSlurmJob) {
    auto owner = job_owners_.find(std::string_view(dir));
    if (owner != job_owners_.end() && owner->second.inode == w->inode) {
      owner->second.scan = scans_;  // kept for resolve() while the job lives
    } else {
      // Until a user's process runs in it the job's owner is not known: look again.
      w->workload = classify(dir.substr(root_len));
      fill_user(w->workload, dir.substr(0, root_len), 0);
    }
  }
  if (w->container_of_others) {
    Usage nested = children();
    scan.workloads.push_back({w->workload, own.cpu_usec - std::min(nested.cpu_usec, own.cpu_usec),
                              0,
                              own.memory_bytes - std::min(nested.memory_bytes, own.memory_bytes)});
  } else {
    scan.workloads.push_back({w->workload, own.cpu_usec, w->allocated_cpus, own.memory_bytes});
  }
  return own;
}

// cgroup2 memory.current, or v1 memory.usage_in_bytes at the same path of the
// memory hierarchy; empty when no memory controller is mounted.
std::string Resolver::memory_file(const std::string& root, const std::string& rel, bool v2) const {
  if (v2) return join(root, rel) + "/memory.current";
  if (auto memory = mounts_.v1.find("memory"); memory != mounts_.v1.end())
    return join(memory->second, rel) + "/memory.usage_in_bytes";
  return {};
}

void Resolver::scan_hierarchy(const std::string& root, bool v2, CpuScan& scan) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    ++scan.errors;
    ++stats_.read_errors;
    return;
  }
  std::string dir = root;
  scan_dir(dir, root.size(), st.st_ino, v2, 0, scan);
}

CpuScan Resolver::scan_cpu() {
  ++scans_;
  CpuScan scan;
  if (auto cpuacct = mounts_.v1.find("cpuacct"); cpuacct != mounts_.v1.end())
    scan_hierarchy(cpuacct->second, false, scan);
  if (!mounts_.v2_root.empty()) {
    CpuScan v2;
    scan_hierarchy(mounts_.v2_root, true, v2);
    std::set<std::pair<WorkloadKind, std::string>> seen;
    for (const auto& w : scan.workloads) seen.emplace(w.workload.kind, w.workload.id);
    for (auto& w : v2.workloads)
      if (!seen.contains({w.workload.kind, w.workload.id})) scan.workloads.push_back(std::move(w));
    scan.errors += v2.errors;
  }
  // Jobs this scan did not meet have ended (or their cgroup went unreadable: read again later).
  std::erase_if(job_owners_, [&](const auto& entry) { return entry.second.scan != scans_; });
  std::erase_if(watched_, [&](const auto& entry) { return entry.second.scan != scans_; });
  stats_.cgroups_watched = watched_.size();
  return scan;
}

}  // namespace vigie::workload
