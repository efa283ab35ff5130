#!/bin/sh
# The guest sees as many CPUs as the lab asked QEMU for (--cpus): races need real SMP.
have=$(grep -c ^processor /proc/cpuinfo)
echo "online CPUs: $have, requested: ${KL_CPUS:-unknown}"
[ -n "$KL_CPUS" ] || { echo "SKIP: the job did not say how many CPUs were requested"; exit 4; }
[ "$have" -eq "$KL_CPUS" ] || { echo "FAIL: want $KL_CPUS CPUs, got $have"; exit 1; }
exit 0
