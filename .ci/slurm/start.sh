#!/usr/bin/env bash
# Starts munged, slurmctld and slurmd on localhost (as root; Debian's slurm-wlm and munge), so
# that test/cluster/slurm.test.ts can submit real job arrays. Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nproc_now="$(nproc)"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /run/munge /var/log
sed "s/^NodeName=localhost CPUs=2/NodeName=localhost CPUs=${nproc_now}/" "$here/slurm.conf" > /etc/slurm/slurm.conf
if [ ! -s /etc/munge/munge.key ]; then mungekey --create --force >/dev/null 2>&1 || mungekey -c -f; fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
pgrep -x munged >/dev/null || su -s /bin/sh munge -c 'munged' || munged --force
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed|allocated'; then exit 0; fi
  scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "slurm did not come up: $(sinfo 2>&1 | tail -2)" >&2
exit 1
