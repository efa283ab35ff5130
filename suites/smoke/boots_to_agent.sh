#!/bin/sh
# The guest reached the agent: /proc and /sys are mounted and the kernel reports itself.
[ -r /proc/version ] || { echo "FAIL: /proc/version is not readable"; exit 1; }
cat /proc/version
echo "cpus: $(grep -c ^processor /proc/cpuinfo), memory: $(grep MemTotal /proc/meminfo)"
exit 0
