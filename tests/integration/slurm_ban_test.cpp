// The ban list's Slurm renderer against a real Slurm with accounting, on one
// node on loopback: munged, MariaDB (Debian's mariadb-server, its own datadir,
// socket and port in a temp dir), slurmdbd on it, slurmctld with
// AccountingStorageEnforce=associations,limits, and slurmd. The user nobody
// has an association; csirt::render_bans's sacctmgr commands (the `text` of an
// active deny-submit entry) make sbatch fail for nobody, and those of the
// lifted entry (its `undo`) make it succeed again. Needs root; fails (with the
// daemons' logs) when a tool is missing or a daemon cannot start.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"
#include "support/slurm_daemons.h"
#include "vigie/csirt/ban.h"

namespace {

namespace fs = std::filesystem;
namespace csirt = vigie::csirt;
using namespace std::chrono_literals;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::running;
using vigie::integration::shell;
using vigie::integration::short_hostname;
using vigie::integration::spawn;
using vigie::integration::start_munged;
using vigie::integration::stop;
using vigie::integration::write_file;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

constexpr const char* kCluster = "vigieban";
constexpr const char* kSite = "vigie-site";

class SlurmBan : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "slurmd, slurmdbd and mariadbd run as root";
    for (const char* tool :
         {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/slurmdbd", "/usr/sbin/munged",
          "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb",
          "/usr/bin/sacctmgr", "/usr/bin/sbatch", "/usr/bin/setpriv"})
      if (!fs::exists(tool))
        FAIL() << tool
               << " is not installed (Debian slurmctld, slurmd, slurmdbd, slurm-client, munge, "
                  "mariadb-server, util-linux: deploy/install-deps.sh --test)";
    char tmpl[] = "/tmp/vigie-slurm-ban.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    for (const char* sub : {"state", "spool", "munge", "mariadb"}) fs::create_directory(dir_ / sub);
    fs::create_directory(dir_ / "out");
    fs::permissions(dir_ / "out", fs::perms::all);  // nobody's jobs run here
    node_ = short_hostname();
    std::string munge_error;
    munged_ = start_munged(dir_, munge_error);
    ASSERT_TRUE(munge_error.empty()) << munge_error;
    start_mariadb();
    write_slurm_conf();
    // sacctmgr, sbatch and slurmdbd (which reads slurmdbd.conf beside slurm.conf) find it here.
    ::setenv("SLURM_CONF", (dir_ / "slurm.conf").c_str(), 1);
    start_slurmdbd();
    add_associations();

    slurmctld_ = spawn({"/usr/sbin/slurmctld", "-D", "-f", (dir_ / "slurm.conf").string()},
                       dir_ / "slurmctld.log");
    if (!eventually(
            [&] {
              return !running(slurmctld_) ||
                     shell("scontrol ping").second.find("UP") != std::string::npos;
            },
            30s) ||
        !running(slurmctld_)) {
      FAIL() << "slurmctld cannot start here:\n" << read_file(dir_ / "slurmctld.log");
    }
    slurmd_ = spawn({"/usr/sbin/slurmd", "-D", "-f", (dir_ / "slurm.conf").string()},
                    dir_ / "slurmd.log");
    ASSERT_TRUE(eventually(
        [&] { return shell("sinfo -h -n " + node_ + " -o %T").second.starts_with("idle"); }, 60s))
        << "slurmd did not register:\n"
        << read_file(dir_ / "slurmd.log") << shell("sinfo -N -l").second;
  }

  void TearDown() override {
    if (running(slurmctld_)) {
      shell("scancel -u nobody");
      eventually([&] { return shell("squeue -h -u nobody").second.empty(); }, 10s);
    }
    stop(slurmd_);
    stop(slurmctld_);
    stop(slurmdbd_);
    stop(mariadbd_);
    stop(munged_);
    ::unsetenv("SLURM_CONF");
    if (HasFailure()) {
      for (const char* log : {"slurmctld.log", "slurmd.log", "slurmdbd.log", "slurmdbd.out",
                              "mariadb.log", "munge/munged.log"})
        std::cerr << "---- " << log << "\n" << read_file(dir_ / log);
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // A MariaDB of the test's own (--no-defaults: none of /etc/mysql, so no
  // clash with a system server): its datadir, socket, pid file and a free port
  // of 127.0.0.1. --skip-grant-tables: slurmdbd connects as root, no password.
  // mariadb-install-db still makes the system tables (mysql.proc and others)
  // that slurmdbd's stored procedures need.
  void start_mariadb() {
    const auto [rc, out] = shell(
        "/usr/bin/mariadb-install-db --no-defaults --user=root --skip-test-db "
        "--auth-root-authentication-method=normal --datadir=" +
        (dir_ / "mariadb").string());
    ASSERT_EQ(rc, 0) << "mariadb-install-db failed:\n" << out;
    mariadbd_ = spawn(
        {"/usr/sbin/mariadbd", "--no-defaults", "--user=root",
         "--datadir=" + (dir_ / "mariadb").string(), "--bind-address=127.0.0.1",
         "--port=" + std::to_string(mariadb_port_), "--socket=" + (dir_ / "mariadb.sock").string(),
         "--pid-file=" + (dir_ / "mariadb.pid").string(), "--skip-grant-tables",
         "--skip-name-resolve", "--log-error=" + (dir_ / "mariadb.log").string()},
        dir_ / "mariadb.out");
    ASSERT_TRUE(eventually(
                    [&] {
                      return !running(mariadbd_) ||
                             shell("/usr/bin/mariadb --no-defaults -S " +
                                   (dir_ / "mariadb.sock").string() + " -e 'select 1'")
                                     .first == 0;
                    },
                    30s) &&
                running(mariadbd_))
        << "mariadbd cannot start here:\n"
        << read_file(dir_ / "mariadb.out") << read_file(dir_ / "mariadb.log");
  }

  void write_slurm_conf() {
    const auto d = [&](const char* sub) { return (dir_ / sub).string(); };
    // slurmdbd wants its slurmdbd.conf readable by SlurmUser only (it may hold StoragePass).
    write_file(dir_ / "slurmdbd.conf",
               "AuthType=auth/munge\nAuthInfo=socket=" + d("munge/munge.socket") +
                   "\nDbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort=" + std::to_string(dbd_port_) +
                   "\nSlurmUser=root\nLogFile=" + d("slurmdbd.log") +
                   "\nPidFile=" + d("slurmdbd.pid") +
                   "\nStorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort=" +
                   std::to_string(mariadb_port_) + "\nStorageUser=root\nStorageLoc=slurm_acct_db\n",
               fs::perms::owner_read | fs::perms::owner_write);
    // AccountingStoragePass: the munge socket of the connections to slurmdbd
    // (slurm.conf(5)); AuthInfo is only that of the ones to slurmctld and slurmd.
    write_file(
        dir_ / "slurm.conf",
        std::string("ClusterName=") + kCluster + "\nSlurmctldHost=" + node_ +
            "(127.0.0.1)\nSlurmctldPort=" + std::to_string(free_port()) +
            "\nSlurmdPort=" + std::to_string(free_port()) +
            "\nAuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" +
            d("munge/munge.socket") + "\nSlurmUser=root\nSlurmdUser=root\n" +
            "StateSaveLocation=" + d("state") + "\nSlurmdSpoolDir=" + d("spool") +
            "\nSlurmctldPidFile=" + d("slurmctld.pid") + "\nSlurmdPidFile=" + d("slurmd.pid") +
            "\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "JobAcctGatherType=jobacct_gather/none\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            "AccountingStorageHost=127.0.0.1\nAccountingStoragePort=" +
            std::to_string(dbd_port_) + "\nAccountingStoragePass=" + d("munge/munge.socket") +
            "\nAccountingStorageEnforce=associations,limits\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nMpiDefault=none\n"
            "ReturnToService=2\nNodeName=" +
            node_ + " NodeAddr=127.0.0.1 CPUs=" +
            std::to_string(std::max(1u, std::thread::hardware_concurrency())) +
            " RealMemory=100 State=UNKNOWN\nPartitionName=debug Nodes=" + node_ +
            " Default=YES MaxTime=INFINITE State=UP\n",
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
            fs::perms::others_read);
  }

  void start_slurmdbd() {
    slurmdbd_ = spawn({"/usr/sbin/slurmdbd", "-D"}, dir_ / "slurmdbd.out");
    ASSERT_TRUE(eventually(
                    [&] {
                      return !running(slurmdbd_) ||
                             shell("timeout 10 sacctmgr -n list cluster").first == 0;
                    },
                    30s) &&
                running(slurmdbd_))
        << "slurmdbd cannot start here:\n"
        << read_file(dir_ / "slurmdbd.out") << read_file(dir_ / "slurmdbd.log")
        << shell("timeout 10 sacctmgr -n list cluster").second;
  }

  // The cluster (before slurmctld registers), an account, and nobody in it.
  void add_associations() {
    for (const std::string& command :
         {std::string("sacctmgr -i add cluster ") + kCluster,
          std::string("sacctmgr -i add account vigie Description=vigie Organization=vigie "
                      "Cluster=") +
              kCluster,
          std::string("sacctmgr -i add user nobody Account=vigie Cluster=") + kCluster}) {
      const auto [rc, out] = shell("timeout 30 " + command);
      ASSERT_EQ(rc, 0) << command << ":\n" << out;
    }
  }

  // sbatch as nobody: its exit status and what it said.
  std::pair<int, std::string> submit_as_nobody() {
    return shell("setpriv --reuid=nobody --regid=nogroup --clear-groups sbatch --parsable -D " +
                 (dir_ / "out").string() + " -o /dev/null --wrap=true");
  }

  // The sacctmgr script of `rendered` (text or undo), run with /bin/sh.
  std::pair<int, std::string> apply(const std::string& script, const char* name) {
    write_file(dir_ / name, script, fs::perms::owner_all);
    return shell("timeout 30 /bin/sh " + (dir_ / name).string());
  }

  std::string nobody_limits() {
    return shell("sacctmgr -nP show assoc where user=nobody format=cluster,account,user,maxsubmit")
        .second;
  }

  fs::path dir_;
  std::string node_;
  uint16_t mariadb_port_ = free_port();
  uint16_t dbd_port_ = free_port();
  pid_t munged_ = -1, mariadbd_ = -1, slurmdbd_ = -1, slurmctld_ = -1, slurmd_ = -1;
};

TEST_F(SlurmBan, RenderedSacctmgrCommandsStopAndRestoreSubmission) {
  // Not banned: nobody's association takes the job.
  {
    const auto [rc, out] = submit_as_nobody();
    ASSERT_EQ(rc, 0) << "sbatch as nobody before the ban:\n" << out << nobody_limits();
  }

  // Banned: an active deny-submit entry for the local user nobody.
  csirt::BanEntry entry;
  entry.id = "ban-slurm-1";
  entry.type = csirt::SubjectType::kUser;
  entry.value = "nobody";
  entry.actions = csirt::kDenySubmit;
  entry.reason = "stolen credentials";
  entry.origin = "federation";
  entry.created_ns = now_ns() - 1'000'000'000;
  csirt::BanList list;
  list.serial = 1;
  list.origin = "federation";
  list.entries = {entry};
  const csirt::IdentityMap no_identities;

  const auto ban =
      csirt::render_bans(list, csirt::RenderFormat::kSlurm, kSite, no_identities, now_ns());
  ASSERT_EQ(ban.entries, 1u) << ban.text;
  ASSERT_NE(ban.text.find("sacctmgr -i modify user where name=nobody set MaxSubmitJobs=0"),
            std::string::npos)
      << ban.text;
  {
    const auto [rc, out] = apply(ban.text, "ban.sh");
    ASSERT_EQ(rc, 0) << "the rendered ban failed:\n" << ban.text << "----\n" << out;
  }
  std::pair<int, std::string> refused;
  EXPECT_TRUE(eventually(
      [&] {
        refused = submit_as_nobody();
        return refused.first != 0 &&
               (refused.second.find("AssocMaxSubmitJobLimit") != std::string::npos ||
                refused.second.find("accounting/QOS policy") != std::string::npos);
      },
      15s))
      << "sbatch as nobody after the ban: exit " << refused.first << "\n"
      << refused.second << nobody_limits();

  // Lifted: the same entry, lifted; its undo lifts the limit.
  list.serial = 2;
  list.entries[0].lifted_ns = now_ns();
  list.entries[0].lifted_by = "csirt";
  list.entries[0].lift_reason = "credentials rotated";
  const auto lift =
      csirt::render_bans(list, csirt::RenderFormat::kSlurm, kSite, no_identities, now_ns());
  EXPECT_EQ(lift.entries, 0u) << lift.text;
  EXPECT_EQ(lift.text.find("name=nobody"), std::string::npos) << lift.text;
  ASSERT_NE(lift.undo.find("sacctmgr -i modify user where name=nobody set MaxSubmitJobs=-1"),
            std::string::npos)
      << lift.undo;
  {
    const auto [rc, out] = apply(lift.undo, "lift.sh");
    ASSERT_EQ(rc, 0) << "the rendered lift failed:\n" << lift.undo << "----\n" << out;
  }
  std::pair<int, std::string> accepted;
  EXPECT_TRUE(eventually(
      [&] {
        accepted = submit_as_nobody();
        return accepted.first == 0;
      },
      15s))
      << "sbatch as nobody after the lift: exit " << accepted.first << "\n"
      << accepted.second << nobody_limits();
}

}  // namespace
