#include "vigie/sensor/process_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace vigie::sensor {
namespace {

namespace fs = std::filesystem;

// A fake procfs: <root>/<pid>/{stat,cmdline,exe}.
class FakeProc {
 public:
  FakeProc() {
    root_ = fs::temp_directory_path() / ("vigie-fake-proc-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::create_directories(root_ / "self");  // non-numeric entries are ignored
  }
  ~FakeProc() { fs::remove_all(root_); }

  void add(uint32_t pid, uint32_t ppid, const std::string& comm, const std::string& cmdline,
           const std::string& exe) {
    fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1\n";
    std::ofstream(dir / "cmdline", std::ios::binary) << cmdline;
    if (!exe.empty()) fs::create_symlink(exe, dir / "exe");
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(ProcessTableTest, SeedsFromFakeProc) {
  FakeProc proc;
  proc.add(1, 0, "systemd", std::string("/sbin/init\0splash\0", 18), "/usr/lib/systemd/systemd");
  proc.add(42, 1, "odd) name (x", std::string("bash\0-l\0", 8), "/usr/bin/bash");
  proc.add(7, 2, "kworker/0:1", "", "");  // kernel thread: no exe, empty cmdline
  ProcessTable table(proc.root());
  EXPECT_EQ(table.seed(), 3u);
  EXPECT_EQ(table.size(), 3u);

  const ProcessInfo* init = table.find(1);
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(*init, (ProcessInfo{"/usr/lib/systemd/systemd", "/sbin/init splash", 0}));
  const ProcessInfo* bash = table.find(42);
  ASSERT_NE(bash, nullptr);
  EXPECT_EQ(*bash, (ProcessInfo{"/usr/bin/bash", "bash -l", 1}));  // ')' in comm
  const ProcessInfo* kthread = table.find(7);
  ASSERT_NE(kthread, nullptr);
  EXPECT_EQ(*kthread, (ProcessInfo{"", "", 2}));
  EXPECT_EQ(table.find(99), nullptr);
}

TEST(ProcessTableTest, LooksUpMissesLazilyAndFollowsExecAndExit) {
  FakeProc proc;
  ProcessTable table(proc.root());
  EXPECT_EQ(table.seed(), 0u);
  proc.add(50, 1, "python3", std::string("python3\0job.py\0", 15), "/usr/bin/python3.11");
  const ProcessInfo* lazy = table.find(50);  // started after seeding
  ASSERT_NE(lazy, nullptr);
  EXPECT_EQ(lazy->image, "/usr/bin/python3.11");
  EXPECT_EQ(table.size(), 1u);

  table.upsert(50, {"/usr/bin/srun", "srun hostname", 1});  // exec replaces
  EXPECT_EQ(table.find(50)->image, "/usr/bin/srun");
  table.erase(50);
  EXPECT_EQ(table.size(), 0u);
  table.erase(50);  // idempotent
}

TEST(ProcessTableTest, CutsLongCommandLines) {
  FakeProc proc;
  proc.add(60, 1, "long", std::string(5000, 'a') + '\0', "/bin/long");
  auto info = ProcessTable::read_proc(proc.root(), 60);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->command_line.size(), ProcessTable::kCommandLineMaxBytes);
}

TEST(ProcessTableTest, EvictsOldestWriteBeyondBound) {
  FakeProc proc;
  ProcessTable table(proc.root(), 2);
  table.upsert(1, {"/a", "a", 0});
  table.upsert(2, {"/b", "b", 0});
  table.upsert(1, {"/a2", "a2", 0});  // refreshes 1: 2 is now the oldest
  table.upsert(3, {"/c", "c", 0});
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.evictions(), 1u);
  EXPECT_EQ(table.find(2), nullptr);
  ASSERT_NE(table.find(1), nullptr);
  EXPECT_EQ(table.find(1)->image, "/a2");
  ASSERT_NE(table.find(3), nullptr);
}

TEST(ProcessTableTest, SeedsFromRealProc) {
  ProcessTable table;
  EXPECT_GT(table.seed(), 1u);
  const ProcessInfo* self = table.find(static_cast<uint32_t>(::getpid()));
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->image, fs::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(self->ppid, static_cast<uint32_t>(::getppid()));
  EXPECT_NE(self->command_line.find("sensor_test"), std::string::npos) << self->command_line;
  ASSERT_NE(table.find(1), nullptr);
}

}  // namespace
}  // namespace vigie::sensor
