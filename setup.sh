#!/usr/bin/env bash
# setup.sh — everything a fresh Debian 12 machine needs to build ldm:
# installs the Debian packages, then configures and builds into build/.
#   ./setup.sh              packages + build
#   LDM_SKIP_APT=1 ./setup.sh   build only (packages already there)
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libscalapack-openmpi-dev libopenblas-dev
  libdnnl-dev
  libpng-dev libcjson-dev libzip-dev libutf8proc-dev libssl-dev
  clang libclang-rt-14-dev
  # tests/slurm starts a private one-node Slurm: munge, slurmctld, slurmd and
  # the client commands (sbatch, srun, scontrol); Debian does not start them.
  munge slurmctld slurmd slurm-client
)

if [ -z "${LDM_SKIP_APT:-}" ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${LDM_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
echo "built: $(pwd)/build/ldm"
