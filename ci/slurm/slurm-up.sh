#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster with accounting (munge, MariaDB, slurmdbd, slurmctld, slurmd) on
# Debian 12, as root, without systemd; adapted from ../shared/docs/slurm-recipe.md. Packages already installed are
# kept, state from an earlier run is wiped. Every daemon writes a pid file; slurm-down.sh stops them by those PIDs.
# /etc/slurm/slurm.conf appears only once slurmctld answers (the daemons start from a staged copy): a client whose
# slurm.conf names a controller that does not answer yet makes `scontrol` wait about 9 s, and
# snakemake-executor-plugin-slurm calls it whenever any `snakemake` starts on this machine.
#
# The node declares itself as a typical GPU node (SLURM_NODE_CPUS CPUs, SLURM_NODE_MEM_MB of memory, SLURM_FAKE_GPUS
# GPUs as a fake GRES on character devices), with partitions `cpu` (default) and `gpu`, so that
# profiles/slurm/config.v8+.yaml is used unmodified. SlurmdParameters=config_overrides lets the node declare more
# CPUs and memory than the machine has; without cgroup plugins SLURM does not enforce either.
#   SLURM_WITH_DBD=0  skip MariaDB + slurmdbd (then sacct fails and the profile needs `slurm-status-command: squeue`)
set -euo pipefail
WITH_DBD=${SLURM_WITH_DBD:-1}
NGPU=${SLURM_FAKE_GPUS:-4}
NCPU=${SLURM_NODE_CPUS:-16}
MEM_MB=${SLURM_NODE_MEM_MB:-64000}
export DEBIAN_FRONTEND=noninteractive
MARK="# written by embnorm ci/slurm/slurm-up.sh"

# never take over a machine's real SLURM
if [ -e /etc/slurm/slurm.conf ] && ! grep -qxF "$MARK" /etc/slurm/slurm.conf; then
  echo "slurm-up.sh: /etc/slurm/slurm.conf exists and was not written by this script; not touching it" >&2; exit 3
fi

# --- packages ----------------------------------------------------------------------------------------------------
pkgs="slurmctld slurmd slurm-client munge"
[ "$WITH_DBD" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
need=0
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || need=1; done
if [ "$need" = 1 ]; then
  apt-get update -qq
  # postinst scripts try to start the services with invoke-rc.d; a policy-rc.d that exits 101 forbids it
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() { # wait_for <seconds> <command...>
  local t=$(( $1 * 4 )); shift
  for _ in $(seq 1 "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "timeout waiting for: $*" >&2; return 1
}

HOST=$(hostname -s)
CLUSTER=ci
HERE=$(cd "$(dirname "$0")" && pwd)

# --- munge -------------------------------------------------------------------------------------------------------
[ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
install -d -o munge -g munge -m 0755 /run/munge
alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
wait_for 10 sh -c 'munge -n | unmunge'

# --- fake GPUs: a GRES gpu needs File= entries that are character devices (the same major/minor as /dev/null) -----
for i in $(seq 0 $((NGPU - 1))); do
  [ -e /dev/fakegpu$i ] || mknod -m 666 /dev/fakegpu$i c 1 3
done

# --- config (staged: see the top) ---------------------------------------------------------------------------------
CONF=/etc/slurm/slurm.conf
STAGED=/etc/slurm/slurm.conf.staged
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
if [ "$WITH_DBD" = 1 ]; then
  acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu"
else
  acct="AccountingStorageType=accounting_storage/none"
fi
gres_node=""; gres_types=""
if [ "$NGPU" -gt 0 ]; then gres_node=" Gres=gpu:$NGPU"; gres_types="GresTypes=gpu"; fi

cat > "$STAGED" <<CONF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$acct
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
TaskProlog=$HERE/task-prolog.sh
$gres_types
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB$gres_node State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
CONF

if [ "$NGPU" -gt 0 ]; then
  printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/fakegpu[0-%d]\n' "$HOST" $((NGPU - 1)) > /etc/slurm/gres.conf
else
  rm -f /etc/slurm/gres.conf
fi

# --- accounting: MariaDB + slurmdbd (the slurm plugin's default status command is sacct) ---------------------------
if [ "$WITH_DBD" = 1 ]; then
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  if ! alive /run/mysqld/mysqld.pid; then
    nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadb.log 2>&1 &
  fi
  wait_for 30 mariadb-admin ping
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmci
StorageLoc=slurm_acct_db
CONF
  chmod 600 /etc/slurm/slurmdbd.conf
  alive /run/slurmdbd.pid || /usr/sbin/slurmdbd
  wait_for 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6819'
fi

# --- slurmctld + slurmd ------------------------------------------------------------------------------------------
if alive /run/slurmctld.pid; then kill "$(cat /run/slurmctld.pid)"; sleep 1; fi
if alive /run/slurmd.pid; then kill "$(cat /run/slurmd.pid)"; sleep 1; fi
/usr/sbin/slurmctld -c -f "$STAGED"   # -c: clean state (no old jobs, no drained node)
/usr/sbin/slurmd -f "$STAGED"
export SLURM_CONF=$STAGED       # the clients below, until the file is in place
wait_for 60 sh -c "sinfo -h -n $HOST -o %T | grep -qx idle"
if [ "$WITH_DBD" = 1 ]; then
  wait_for 30 sh -c "sacctmgr -n list cluster format=cluster | grep -qw $CLUSTER"
fi
ln -f "$STAGED" "$CONF"          # a hard link: the file appears whole; the daemons keep reading theirs
unset SLURM_CONF
sinfo
