#!/bin/sh
# The kernel that booted is the one the lab built (KL_KERNEL_VERSION comes from its Makefile).
have=$(uname -r)
echo "uname -r: $have, built: ${KL_KERNEL_VERSION:-unknown}"
[ -n "$KL_KERNEL_VERSION" ] || { echo "SKIP: the job did not say which version was built"; exit 4; }
case "$have" in
"$KL_KERNEL_VERSION"*) exit 0 ;;
*) echo "FAIL: want $KL_KERNEL_VERSION, got $have"; exit 1 ;;
esac
