#include "vigie/workload/classify.h"

#include <gtest/gtest.h>

namespace vigie::workload {
namespace {

using protocol::WorkloadKind;

const std::string kHex = "4c0ffee5e5b2c1f4c3e4a8d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";

struct Case {
  std::string path;
  WorkloadKind kind;
  std::string id;
  std::string user;
};

TEST(WorkloadClassify, RealWorldPaths) {
  const Case cases[] = {
      // Slurm task/cgroup on cgroup v1 (cpuacct, memory, ... hierarchies).
      {"/slurm/uid_1000/job_42/step_0", WorkloadKind::kSlurmJob, "42", "1000"},
      {"/slurm/uid_1000/job_42/step_batch/task_0", WorkloadKind::kSlurmJob, "42", "1000"},
      {"/slurm/uid_1000/job_42", WorkloadKind::kSlurmJob, "42", "1000"},
      {"/slurm/uid_0/job_7/step_extern", WorkloadKind::kSlurmJob, "7", "0"},
      {"/slurm_node017/uid_5001/job_123456/step_2", WorkloadKind::kSlurmJob, "123456", "5001"},
      // Slurm cgroup/v2 plugin.
      {"/system.slice/slurmstepd.scope/job_4242/step_0", WorkloadKind::kSlurmJob, "4242", ""},
      {"/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0", WorkloadKind::kSlurmJob,
       "4242", ""},
      {"/system.slice/slurmstepd.scope/job_4242/step_batch/slurm", WorkloadKind::kSlurmJob, "4242",
       ""},
      {"/system.slice/slurmstepd.scope/job_4242", WorkloadKind::kSlurmJob, "4242", ""},
      {"/system.slice/node017_slurmstepd.scope/job_99/step_extern/user/task_special",
       WorkloadKind::kSlurmJob, "99", ""},
      // Not jobs: slurmstepd's own cgroup, the user level of v1 without a job, bad ids.
      {"/system.slice/slurmstepd.scope/system", WorkloadKind::kSystemdUnit, "slurmstepd.scope", ""},
      {"/system.slice/slurmstepd.scope", WorkloadKind::kSystemdUnit, "slurmstepd.scope", ""},
      {"/system.slice/slurmd.service", WorkloadKind::kSystemdUnit, "slurmd.service", ""},
      {"/slurm/uid_1000", WorkloadKind::kHost, "host", ""},
      {"/slurm/uid_x/job_1", WorkloadKind::kHost, "host", ""},
      {"/slurm/uid_1/job_", WorkloadKind::kHost, "host", ""},
      {"/slurmfoo/uid_1/job_2", WorkloadKind::kHost, "host", ""},
      // systemd.
      {"/system.slice/sshd.service", WorkloadKind::kSystemdUnit, "sshd.service", ""},
      {"/system.slice/system-getty.slice/getty@tty1.service", WorkloadKind::kSystemdUnit,
       "getty@tty1.service", ""},
      {"/system.slice/dbus.socket", WorkloadKind::kSystemdUnit, "dbus.socket", ""},
      {"/init.scope", WorkloadKind::kSystemdUnit, "init.scope", ""},
      {"/user.slice/user-1000.slice/session-3.scope", WorkloadKind::kSystemdUnit, "session-3.scope",
       "1000"},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service",
       WorkloadKind::kSystemdUnit, "dbus.service", "1000"},
      {"/system.slice/containerd.service", WorkloadKind::kSystemdUnit, "containerd.service", ""},
      {"/system.slice/libpod-conmon-" + kHex + ".scope", WorkloadKind::kSystemdUnit,
       "libpod-conmon-" + kHex + ".scope", ""},
      // Containers.
      {"/system.slice/docker-" + kHex + ".scope", WorkloadKind::kContainer, kHex, ""},
      {"/docker/" + kHex, WorkloadKind::kContainer, kHex, ""},
      {"/machine.slice/libpod-" + kHex + ".scope/container", WorkloadKind::kContainer, kHex, ""},
      {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kHex + ".scope",
       WorkloadKind::kContainer, kHex, ""},
      {"/kubepods.slice/kubepods-burstable.slice/"
       "kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-" +
           kHex + ".scope",
       WorkloadKind::kContainer, kHex, ""},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/crio-" + kHex +
           ".scope",
       WorkloadKind::kContainer, kHex, ""},
      {"/kubepods/burstable/pod0a1b2c3d-4e5f-6789-abcd-ef0123456789/" + kHex,
       WorkloadKind::kContainer, kHex, ""},
      {"/docker/" + kHex + "/docker/" + std::string(64, 'a'), WorkloadKind::kContainer, kHex, ""},
      // Host.
      {"/", WorkloadKind::kHost, "host", ""},
      {"", WorkloadKind::kHost, "host", ""},
      {"/user.slice", WorkloadKind::kHost, "host", ""},
      {"/system.slice", WorkloadKind::kHost, "host", ""},
      {"/docker/" + kHex.substr(1), WorkloadKind::kHost, "host", ""},
      {"/docker/" + std::string(64, 'G'), WorkloadKind::kHost, "host", ""},
      {"/process_api/d15c05dd375c51ad664a0c729164b6a1", WorkloadKind::kHost, "host", ""},
      {"/.service", WorkloadKind::kHost, "host", ""},
  };
  for (const auto& c : cases) {
    auto w = classify(c.path);
    EXPECT_EQ(w.kind, c.kind) << c.path;
    EXPECT_EQ(w.id, c.id) << c.path;
    EXPECT_EQ(w.user, c.user) << c.path;
    EXPECT_EQ(w.cgroup_path, c.path.empty() ? "/" : c.path) << c.path;
  }
}

TEST(WorkloadClassify, SlurmStepAndKubernetesPod) {
  EXPECT_EQ(classify("/slurm/uid_1000/job_42/step_batch/task_0").step, "batch");
  EXPECT_EQ(classify("/slurm/uid_1000/job_42/step_3").step, "3");
  EXPECT_EQ(classify("/slurm/uid_1000/job_42").step, "");
  EXPECT_EQ(classify("/system.slice/slurmstepd.scope/job_4242/step_extern/user/task_0").step,
            "extern");
  EXPECT_EQ(classify("/system.slice/slurmstepd.scope/job_4242/step_x.y").step, "");

  const std::string uid = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
  // systemd cgroup driver: the uid's dashes are underscores in the slice name.
  auto c = classify(
      "/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/"
      "cri-containerd-" +
      kHex + ".scope");
  EXPECT_EQ(c.kind, WorkloadKind::kContainer);
  EXPECT_EQ(c.id, kHex);
  EXPECT_EQ(c.pod_uid, uid);
  // cgroupfs driver.
  c = classify("/kubepods/burstable/pod" + uid + "/" + kHex);
  EXPECT_EQ(c.pod_uid, uid);
  // The pod's own cgroup, outside its containers.
  auto pod = classify("/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice");
  EXPECT_EQ(pod.kind, WorkloadKind::kKubernetesPod);
  EXPECT_EQ(pod.id, uid);
  EXPECT_EQ(pod.pod_uid, uid);
  EXPECT_EQ(classify("/kubepods/besteffort/pod" + uid).kind, WorkloadKind::kKubernetesPod);
  // Not a uuid: not a pod; docker outside Kubernetes has no pod.
  EXPECT_EQ(classify("/kubepods/besteffort/podx").kind, WorkloadKind::kHost);
  EXPECT_EQ(classify("/docker/" + kHex).pod_uid, "");
}

// Slurm's names outside the places slurmd creates them (a user's delegated
// cgroup v2 subtree, a container, another slice) must not pose as a job.
TEST(WorkloadClassify, SlurmLayoutsOnlyAtTheHierarchyRoot) {
  const Case cases[] = {
      {"/user.slice/user-1000.slice/user@1000.service/slurmstepd.scope/job_123",
       WorkloadKind::kSystemdUnit, "slurmstepd.scope", "1000"},
      {"/user.slice/user-1000.slice/user@1000.service/system.slice/slurmstepd.scope/job_123/step_0",
       WorkloadKind::kSystemdUnit, "slurmstepd.scope", "1000"},
      {"/user.slice/user-1000.slice/user@1000.service/app.slice/n1_slurmstepd.scope/job_9",
       WorkloadKind::kSystemdUnit, "n1_slurmstepd.scope", "1000"},
      {"/user.slice/user-1000.slice/user@1000.service/slurm/uid_0/job_1/step_0",
       WorkloadKind::kSystemdUnit, "user@1000.service", "1000"},
      {"/user.slice/user-1000.slice/session-3.scope/slurm_n1/uid_2000/job_5",
       WorkloadKind::kSystemdUnit, "session-3.scope", "1000"},
      {"/system.slice/docker-" + kHex + ".scope/system.slice/slurmstepd.scope/job_1",
       WorkloadKind::kContainer, kHex, ""},
      {"/machine.slice/slurmstepd.scope/job_1", WorkloadKind::kSystemdUnit, "slurmstepd.scope", ""},
      {"/slurmstepd.scope/job_1", WorkloadKind::kSystemdUnit, "slurmstepd.scope", ""},
      {"/system.slice/x.service/slurmstepd.scope/job_1", WorkloadKind::kSystemdUnit,
       "slurmstepd.scope", ""},
      {"/system.slice/_slurmstepd.scope/job_1", WorkloadKind::kSystemdUnit, "_slurmstepd.scope",
       ""},
      {"/foo/slurm/uid_1/job_2", WorkloadKind::kHost, "host", ""},
      {"/slurm_/uid_1/job_2", WorkloadKind::kHost, "host", ""},
      {"/system.slice/slurm/uid_1/job_2", WorkloadKind::kHost, "host", ""},
  };
  for (const auto& c : cases) {
    auto w = classify(c.path);
    EXPECT_EQ(w.kind, c.kind) << c.path;
    EXPECT_EQ(w.id, c.id) << c.path;
    EXPECT_EQ(w.user, c.user) << c.path;
  }
}

TEST(WorkloadClassify, SurvivesHostileInput) {
  EXPECT_EQ(classify(std::string(100000, '/')).kind, WorkloadKind::kHost);
  EXPECT_EQ(classify("/slurm/uid_99999999999999999999999/job_1").kind, WorkloadKind::kHost);
  EXPECT_EQ(classify(std::string("/a\0b/x.service", 14)).id, "x.service");
  EXPECT_EQ(classify("slurm/uid_1/job_2").cgroup_path, "/slurm/uid_1/job_2");
}

}  // namespace
}  // namespace vigie::workload
