// Maps a cgroup path to the workload that owns it (Slurm job, systemd unit, container, host).
#pragma once

#include <string_view>

#include "vigie/protocol/event.h"

namespace vigie::workload {

// Classifies a cgroup path relative to its hierarchy's mount, e.g.
// "/slurm/uid_1000/job_42/step_0". Pure: reads no file. First match wins:
//  1. Slurm job (kSlurmJob, id = job id), only at these places under the root:
//     v1 (task/cgroup, cgroup/v1 plugin): /slurm[_<node>]/uid_<U>/job_<J>[/step_<S>...]
//     v2 (cgroup/v2 plugin):
//       /system.slice/[<node>_]slurmstepd.scope/job_<J>[/step_<S>[/user/task_<T>]]
//     The same names anywhere else (e.g. made by a user in their delegated
//     user@<U>.service subtree) are not a job: rules 2-4 apply.
//     `step` is S of a step_<S> component right below job_<J> ("0", "batch",
//     "extern", "interactive"), empty for the job's own cgroup.
//  2. container (kContainer, id = 64 hex digits): a component docker-<id>.scope,
//     libpod-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, or a bare <id>
//     (/docker/<id>, /kubepods/…/pod<uid>/<id>); the outermost one. `pod_uid`
//     is set when a Kubernetes pod cgroup (rule 3) encloses it.
//  3. Kubernetes pod (kKubernetesPod, id = pod_uid = the pod's uid with dashes):
//     a pod cgroup outside any of its containers, "pod<uid>" (kubelet cgroupfs
//     driver) or "kubepods[-<qos>]-pod<uid, _ for ->.slice" (systemd driver).
//  4. systemd unit (kSystemdUnit, id = the deepest component ending in .service,
//     .scope, .socket, .mount or .swap; slices hold no process of their own).
//  5. otherwise kHost, id "host".
// `user` is the decimal uid when the path carries it (Slurm v1 uid_<U>, systemd
// user-<U>.slice), empty otherwise; Resolver turns it into a user name and finds
// the owner of Slurm v2 jobs. `cgroup_path` is the input.
protocol::Workload classify(std::string_view cgroup_path);

}  // namespace vigie::workload
