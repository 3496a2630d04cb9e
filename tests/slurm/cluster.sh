# cluster.sh — a private one-node Slurm on 127.0.0.1 (sourced by the tests
# and by slurm/ users who want to try the scripts on a workstation).
#
#   . tests/slurm/cluster.sh
#   cluster_start STATE_DIR     # munged + slurmctld + slurmd, node IDLE; exports SLURM_CONF
#   sbatch --wait ...           # any Slurm command, against this cluster
#   cluster_stop                # stops the three daemons by their PIDs
#
# Everything lives under STATE_DIR: munge key and socket, slurm.conf, state,
# spool, logs. Nothing in /etc, /run or /var is used or changed, and the
# daemons are stopped by the PIDs this file started. The settings are the ones
# found to work on a Debian 12 machine without systemd or cgroups
# (docs/slurm.md, "Trying it on one machine"): proctrack/linuxproc, task/none,
# a node named localhost at 127.0.0.1 (the machine's own name need not
# resolve), CPUs offered by config_overrides, a short credential lifetime so
# that a requeued job starts again within seconds.
#
# cluster_start returns non-zero after printing the daemons' logs if they do
# not come up: a test that uses it fails, it does not skip.

CLUSTER_DIR=""
CLUSTER_PIDS=""
CLUSTER_WATCHDOG=""

cluster_log() { echo "cluster: $*" >&2; }

# A free TCP port on 127.0.0.1 near $1 (nothing answers a connect).
cluster_free_port() {
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

cluster_dump_logs() {
    local f
    for f in "$CLUSTER_DIR"/log/*.log; do
        [ -f "$f" ] || continue
        echo "===== $f (last 60 lines) =====" >&2
        tail -n 60 "$f" >&2
    done
}

# cluster_start DIR [CPUS]: CPUS offered by the node (default: the machine's
# core count, at least 4 so that 4-rank jobs fit).
cluster_start() {
    CLUSTER_DIR=$(cd "$1" && pwd)
    local cpus=${2:-$(nproc)}
    [ "$cpus" -ge 4 ] || cpus=4
    local d=$CLUSTER_DIR
    mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" "$d/tmp"
    chmod 0711 "$d" "$d/munge"   # munge clients need o+x on the socket's folder

    for tool in munged mungekey slurmctld slurmd sbatch scontrol sinfo; do
        command -v "$tool" >/dev/null 2>&1 || {
            cluster_log "$tool not found: install Debian's munge slurmctld slurmd slurm-client (./setup.sh does)"
            return 1
        }
    done

    # munge: its own key, socket, pid and seed files.
    rm -f "$d/munge/munge.key"
    mungekey --create --keyfile="$d/munge/munge.key" >/dev/null 2>&1 \
        || dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 0600 "$d/munge/munge.key"
    munged --foreground --force --key-file="$d/munge/munge.key" \
        --socket="$d/munge/munge.socket" --pid-file="$d/munge/munged.pid" \
        --seed-file="$d/munge/munged.seed" --log-file="$d/log/munged.log" \
        >>"$d/log/munged.out" 2>&1 &
    CLUSTER_PIDS="$!"
    local i
    for i in $(seq 50); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.1; done
    if [ ! -S "$d/munge/munge.socket" ]; then
        cluster_log "munged did not create its socket"; cluster_dump_logs; cluster_stop; return 1
    fi

    local user; user=$(id -un)
    local ctld_port; ctld_port=$(cluster_free_port $((17000 + $$ % 2000)))
    local slurmd_port; slurmd_port=$(cluster_free_port $((ctld_port + 1)))
    cat >"$d/slurm.conf" <<EOF
# One node on loopback, written by tests/slurm/cluster.sh.
ClusterName=ldmtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$d/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
MailProg=/bin/true
ReturnToService=2
EnforcePartLimits=ALL
JobRequeue=1
MinJobAge=5
KillWait=5
InactiveLimit=0
SchedulerParameters=sched_interval=2,bf_interval=2
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$d/slurm.conf"

    slurmctld -D -i -f "$d/slurm.conf" >>"$d/log/slurmctld.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"
    slurmd -D -N localhost -f "$d/slurm.conf" >>"$d/log/slurmd.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"

    # Up when the node is idle (about 2 s; allow 60).
    local state=""
    for i in $(seq 120); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
        [ "$state" = "idle" ] && break
        local pid
        for pid in $CLUSTER_PIDS; do
            kill -0 "$pid" 2>/dev/null || { state="daemon $pid exited"; break 2; }
        done
        sleep 0.5
    done
    if [ "$state" != "idle" ]; then
        cluster_log "the node did not become idle (state: ${state:-no answer})"
        for f in "$d"/log/*.out; do echo "===== $f =====" >&2; tail -n 30 "$f" >&2; done
        cluster_dump_logs
        cluster_stop
        return 1
    fi
    # If the shell that started the daemons dies without cluster_stop (a
    # test killed at its timeout), a watchdog stops them.
    (
      while kill -0 $$ 2>/dev/null; do sleep 2; done
      for pid in $CLUSTER_PIDS; do kill -TERM "$pid" 2>/dev/null; done ) </dev/null >/dev/null 2>&1 &
    CLUSTER_WATCHDOG=$!
    cluster_log "up in $d (slurmctld port $ctld_port, pids $CLUSTER_PIDS)"
}

# Stop by PID: slurmd, slurmctld, munged (TERM, then KILL after 10 s).
# Jobs still queued or running are cancelled first.
cluster_stop() {
    local pid pids="" i
    if [ -n "$CLUSTER_PIDS" ] && [ -n "${SLURM_CONF:-}" ]; then
        scancel --quiet --user="$(id -un)" 2>/dev/null
        for i in $(seq 20); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    if [ -n "${CLUSTER_WATCHDOG:-}" ]; then
        kill "$CLUSTER_WATCHDOG" 2>/dev/null
        wait "$CLUSTER_WATCHDOG" 2>/dev/null
        CLUSTER_WATCHDOG=""
    fi
    for pid in $CLUSTER_PIDS; do pids="$pid $pids"; done
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=""
}
