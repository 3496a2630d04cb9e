#!/usr/bin/env bash
# Creates the Python environment that generates golden fixtures:
#   tools/reference/setup_env.sh [VENV_DIR]     (default /opt/ldmref)
# Then run generators as  $VENV_DIR/bin/python tools/reference/make_<x>.py
set -euo pipefail
venv=${1:-/opt/ldmref}
here=$(cd "$(dirname "$0")" && pwd)
apt-get install -y -qq python3-venv python3-pip >/dev/null
python3=/usr/bin/python3
[ -x "$venv/bin/python" ] || $python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
"$venv/bin/python" -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'cpu capability', torch.backends.cpu.get_cpu_capability())"
