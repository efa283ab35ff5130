#!/bin/sh
# link_flap_pair.sh rxe|siw: a's cable is pulled (QMP set_link off) for 15 s in the middle
# of a 120 s stream of RDMA WRITEs from a to b (ib_write_bw -D), then put back. The stream
# never hangs: once the cable is back it has either ended with an error (retries exhausted)
# or carries traffic again (eth0 receives), within a bound; which one is printed. Then a
# new rping from a to b passes with verification.
. ./rdma_lib.sh
P=$(provider_arg "$1")
need_pair
link_add "$P"
PORT=7177
# siw runs over TCP: a dead link is noticed after TCP's retransmissions (minutes by default)
echo 4 > /proc/sys/net/ipv4/tcp_retries2
if [ "$KL_ROLE" = b ]; then
	for round in 1 2; do
		if [ $round = 1 ]; then
			ib_write_bw -d "$DEV" -R -F -p $PORT -s 65536 -D 120 >"$T/server1" 2>&1 &
		else
			rping -s -a "$KL_ADDR" -p $PORT -C 10 -S 4096 -V >"$T/server2" 2>&1 &
		fi
		SRV=$!
		BG_PIDS="$SRV"
		wait_listen $PORT "$(scaled 10)" || kl_fail "$P: server on b not listening (round $round)"
		kl_barrier "listening$round"
		kl_barrier "done$round" "$(scaled 120)"
		if [ $round = 1 ]; then
			# a's side of the connection died behind a pulled cable: b may never hear of
			# it (nothing b sends needs an answer), so its server goes by hand
			kill -9 $SRV 2>/dev/null
			wait $SRV 2>/dev/null
		else
			wait_exit $SRV "$(scaled 30)" || kl_fail "$P: b's rping server still running $(scaled 30) s after a's last rping"
			[ "$WAIT_RC" != 0 ] && kl_fail "$P: b's rping server after the link came back exited $WAIT_RC: $(tr '\n' ' ' <"$T/server2" | cut -c1-300)"
		fi
		BG_PIDS=""
	done
	exit 0
fi
kl_barrier listening1
# a stream of RDMA WRITEs: the requester always has work outstanding, so a lost link shows
# (an RC receiver that only waits, like an rping client between pings, never times out)
ib_write_bw -d "$DEV" -R -F -p $PORT -s 65536 -D 120 "$KL_PEER" >"$T/client1" 2>&1 &
CLI=$!
BG_PIDS="$CLI"
sleep 5
kill -0 $CLI 2>/dev/null || kl_fail "$P: the write stream ended before the cable was pulled: $(tr '\n' ' ' <"$T/client1" | cut -c1-300)"
kl_ctl "link down"
LINK_DOWN=1
sleep 15
kill -0 $CLI 2>/dev/null && during="kept running" || during=ended
kl_ctl "link up"
LINK_DOWN=
BOUND=$(scaled 60)
rx() { cat /sys/class/net/eth0/statistics/rx_packets; }
t0=$(date +%s)
outcome=
while [ -z "$outcome" ]; do
	if ! kill -0 $CLI 2>/dev/null; then
		wait $CLI
		rc=$?
		[ $rc = 0 ] && kl_fail "$P: a 120 s write stream ended with success across a pulled cable: $(tail -n 3 "$T/client1" | tr '\n' ' ' | cut -c1-200)"
		outcome="ended with an error (exit $rc: $(grep -i -m1 'error\|fail' "$T/client1" | cut -c1-100))"
		break
	fi
	r0=$(rx)
	sleep 5
	kill -0 $CLI 2>/dev/null && [ $(($(rx) - r0)) -gt 10 ] && outcome="resumed ($(($(rx) - r0)) packets in over 5 s)"
	[ -z "$outcome" ] && [ $(($(date +%s) - t0)) -ge "$BOUND" ] && kl_fail "$P: the write stream neither ended nor carried traffic $BOUND s after the cable was back (a hang)"
done
kill -9 $CLI 2>/dev/null
wait $CLI 2>/dev/null
BG_PIDS=""
kl_barrier done1
kl_barrier listening2
timeout "$(scaled 30)" rping -c -a "$KL_PEER" -p $PORT -C 10 -S 4096 -V -v >"$T/client2" 2>&1
rc=$?
kl_barrier done2
[ $rc = 0 ] || kl_fail "$P: rping after the cable was back exited $rc: $(tr '\n' ' ' <"$T/client2" | cut -c1-300)"
[ "$(grep -c '^ping data: ' "$T/client2")" = 10 ] || kl_fail "$P: after the cable was back, want 10 pings"
kl_info "$P: cable out 15 s: meanwhile the write stream $during; with the cable back it had $outcome; a new rping: 10 pings verified"
exit 0
