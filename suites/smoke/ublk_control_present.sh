#!/bin/sh
# ublk is built in: its control device exists.
[ -c /dev/ublk-control ] || { echo "FAIL: want /dev/ublk-control (char device), got none"; exit 1; }
ls -l /dev/ublk-control
exit 0
