#!/usr/bin/env bash
# Installs the Debian 12 packages Vigie needs, only those missing.
#   deploy/install-deps.sh          build and run
#   deploy/install-deps.sh --test   also what the test suite needs
set -euo pipefail

build_packages=(
  cmake ninja-build g++ pkg-config ccache
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libpowercap-dev powercap-utils
  prometheus-cpp-dev libboost1.81-dev
  protobuf-compiler libprotobuf-dev libzstd-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libcli11-dev libhowardhinnant-date-dev tzdata
  libssl-dev libsqlite3-dev libpq-dev libsnappy-dev
  libre2-dev libhyperscan-dev libfreeipmi-dev libipmimonitoring-dev
  googletest libgtest-dev libgmock-dev
  util-linux procps ca-certificates curl
)
test_packages=(iproute2 chromium clang-tidy libclang-rt-14-dev libbenchmark-dev libbpf-tools slurmctld slurmd slurm-client munge prometheus-alertmanager postgresql prometheus victoria-metrics
               python3-jsonschema   # the MISP and STIX exports checked against their published schemas
               openssh-server nftables   # the ban list renderers checked by sshd -t and nft -c
               slurmdbd mariadb-server)  # the Slurm ban renderer against real Slurm accounting

wanted=("${build_packages[@]}")
[[ "${1:-}" == "--test" ]] && wanted+=("${test_packages[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The dashboard's chart library (uPlot) comes from npm; any Node.js >= 18 will do.
command -v npm >/dev/null || missing+=(nodejs npm)

if ((${#missing[@]})); then
  echo "vigie: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tracefs is where tracepoints are attached; some minimal systems do not mount it.
if ! mountpoint -q /sys/kernel/tracing 2>/dev/null && [[ -d /sys/kernel/tracing ]]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
