#!/bin/sh
# perf_checks.sh <kl-ublk> <copies|skips>: ublk_perf.sh must fail, saying why, when the
# server it measures lies about reg-zc. The lie is a wrapper around the real kl-ublk (real
# kernel, real devices) that reports reg-zc as available (`features`) and then
#  copies: serves `add -m reg-zc` in copy mode, a zero-copy mode silently copying;
#  skips:  answers `add -m reg-zc` with SKIP (exit 4), a mode skipping on a kernel that
#          has it.
UBLK=$1 fault=$2
[ -x "$UBLK" ] || { echo "FAIL: no ublk server at '$UBLK'"; exit 1; }
case $fault in
copies) want='FAIL: reg-zc (null randread 4k) round 1: zero-copy mode copied' ;;
skips) want='FAIL: mode reg-zc did not start though GET_FEATURES offers it' ;;
*) echo "FAIL: fault must be copies or skips, got '$fault'"; exit 1 ;;
esac

liar=$KL_TMP/kl-ublk-$fault
cat > "$liar" <<EOF
#!/bin/sh
real=$UBLK
if [ "\$1" = features ]; then
	"\$real" features | sed 's/^mode reg-zc: .*/mode reg-zc: ok/'
	exit 0
fi
case " \$* " in
*" -m reg-zc "*)
	[ $fault = skips ] && { echo "SKIP: kernel lacks reg-zc (a lie)"; exit 4; }
	set -- \$(echo "\$*" | sed 's/-m reg-zc/-m copy/')
	;;
esac
exec "\$real" "\$@"
EOF
chmod +x "$liar"

out=$(KL_PERF_SAMPLES=1 KL_PERF_RUNTIME=1 KL_FEATURES= ublk_perf.sh "$liar" null randread 4k 2>&1)
rc=$?
echo "$out" | sed 's/^/ublk_perf.sh: /'
[ $rc -eq 1 ] || { echo "FAIL: want ublk_perf.sh to fail (exit 1), got exit $rc"; exit 1; }
echo "$out" | grep -q "^$want" ||
	{ echo "FAIL: want a line starting '$want', got: $(echo "$out" | grep '^FAIL' | tail -n 1)"; exit 1; }
exit 0
