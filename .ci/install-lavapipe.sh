#!/usr/bin/env bash
# Mesa's lavapipe (Vulkan on the CPU) so that Dawn, and with it the WebGPU backend, runs without a GPU.
# bookworm's own mesa (22.x) is too old for Dawn; backports carries 25.x.
set -euo pipefail
if [ ! -f /etc/apt/sources.list.d/backports.list ]; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
