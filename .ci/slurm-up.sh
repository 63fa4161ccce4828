#!/usr/bin/env bash
# A real one-node SLURM (munged, slurmctld, slurmd) on this machine, for tests that submit
# through sbatch. Idempotent: installs what is missing, starts what is not running, and
# returns once the node accepts jobs. Needs root (CI and developers run as root here).
set -euo pipefail

log() { echo "slurm-up: $*" >&2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: every daemon and sbatch authenticate through it; Debian's postinst may or may not
# have generated a key (it depends on the image), so make one when absent.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "generating munge key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

# slurm.conf for this host. No cgroup plugin at all: containers here have no writable
# cgroup tree, and 22.05 does not know CgroupPlugin=disabled (slurmd refuses to start).
host="$(hostname)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
conf=/etc/slurm/slurm.conf
want="$(cat <<EOF
# Written by .ci/slurm-up.sh: a one-node test cluster on $host.
ClusterName=ssdnet-ci
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
# Oversubscribed on purpose: a test's batch job and its worker jobs share two cores.
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
)"
install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    printf '%s\n' "$want" >"$conf"
    changed=1
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$changed" = 1 ] && running /run/slurmctld.pid; then
    log "slurm.conf changed: reconfiguring"
    scontrol reconfigure || true
fi
if ! running /run/slurmctld.pid; then
    log "starting slurmctld"
    # -c: a fresh controller forgets jobs left over from an earlier (killed) run.
    slurmctld -c
fi
if ! running /run/slurmd.pid; then
    log "starting slurmd"
    slurmd
fi

# Ready when the node is idle or already running something; a node that came back DOWN
# (killed daemons leave it so) is resumed once.
resumed=0
for _ in $(seq 60); do
    state="$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle|mix|alloc|comp) log "node $host is $state"; exit 0 ;;
        down*|drain*|fail*)
            if [ "$resumed" = 0 ]; then
                scontrol update nodename="$host" state=resume || true
                resumed=1
            fi ;;
    esac
    sleep 1
done
log "node $host never became ready (state: ${state:-none}); see /var/log/slurm/"
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
