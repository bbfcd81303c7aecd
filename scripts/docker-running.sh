#!/usr/bin/env bash
# Start the Docker engine if it is not answering. Safe to run again.
set -euo pipefail

docker info >/dev/null 2>&1 && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  $sudo systemctl start docker
else
  $sudo sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "error: dockerd did not start; see /var/log/dockerd.log" >&2
exit 1
