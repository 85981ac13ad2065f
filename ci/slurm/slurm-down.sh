#!/usr/bin/env bash
# Remove the configuration that slurm-up.sh wrote, then stop the daemons it started, each by the PID in its pid file
# (never by name). In that order: a client whose slurm.conf names a controller that no longer answers makes `scontrol`
# wait about 9 s, and snakemake-executor-plugin-slurm calls it whenever Snakemake starts, so the file must not outlive
# the controller, not even while the daemons stop. The packages stay installed.
MARK="# written by embnorm ci/slurm/slurm-up.sh"
for conf in /etc/slurm/slurm.conf /etc/slurm/slurm.conf.staged; do
  if [ -e "$conf" ] && grep -qxF "$MARK" "$conf"; then
    rm -f "$conf" /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf
  fi
done

stop() { # stop <pidfile>
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null && break   # a zombie has exited (PID 1 reaps late here)
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null; then
      kill -9 "$pid"
    fi
  fi
  rm -f "$f"
}
stop /run/slurmd.pid
stop /run/slurmctld.pid
stop /run/slurmdbd.pid
stop /run/mysqld/mysqld.pid
stop /run/munge/munged.pid
