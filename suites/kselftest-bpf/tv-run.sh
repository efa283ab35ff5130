#!/bin/sh
# tv-run.sh: the kernel's test_verifier, its results told as KTAP (one subtest per line it
# prints for a test: `#12/p <description> OK`, `... SKIP (why)`, `... FAIL` and the log).
# test_verifier prints no KTAP of its own; this keeps its verdicts as they are (its SKIPs
# stay SKIPs: program types this kernel leaves out, no JIT, features it lacks) and checks
# its count against its own `Summary: N PASSED, M SKIPPED, K FAILED`. A failed test's first
# lines (the reason, then the verifier log) come before its `not ok` line as comments, cut
# to 20 lines; the whole output stays in $KL_TMP/test_verifier.out.
# stderr (libbpf's warnings) is kept apart, each distinct line once with its count at the
# end: written unbuffered into the same stream, it landed in the middle of result lines.
# Exit 0 when every test passed or skipped, 1 otherwise. The last line, for a failure,
# is `FAIL: <k> of <n> failed: <their numbers>` (what the lab records as the reason, and
# what expected/<base>.json matches: a failure not on the list changes it), or
# `FAIL: tv-run: ...` when the output could not be read as test_verifier's.
dir=$(cd "$(dirname "$0")" && pwd)
out=${KL_TMP:-/tmp}/test_verifier.out
err=${KL_TMP:-/tmp}/test_verifier.err
"$dir/test_verifier" "$@" > "$out" 2> "$err"
rc=$?
awk -v rc="$rc" -v errf="$err" '
function verdict(t) {
	return t ~ / SKIP( \(.*\))?$/ || t ~ / ([0-9]+ cases )?OK( \(NOTE: .*\))?$/ || t ~ / FAIL/
}
function emit(   line, name, note, reason, st, i, k, j) {
	if (cur == "") return
	n++
	# The verdict may come on a later line: a fixup prints its own complaint with a newline
	# first ("#472/p <descr> Failed to load BTF spec: ...", then "FAIL" or "SKIP (...)").
	line = cur; j = 0
	while (!verdict(line) && j < nextra) line = line " " extra[++j]
	name = cur; note = ""
	if (j > 0 && match(name, / Failed to .*$/)) { note = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
	reason = ""
	if (match(line, / SKIP( \(.*\))?$/)) {
		st = "skip"; reason = substr(line, RSTART + 5)
		if (j == 0) name = substr(line, 1, RSTART - 1)
		sub(/^ \(/, "", reason); sub(/\)$/, "", reason)
		if (reason == "") reason = "test_verifier skipped it"
	} else if (match(line, / ([0-9]+ cases )?OK( \(NOTE: .*\))?$/)) {
		st = "ok"
		if (j == 0) name = substr(line, 1, RSTART - 1)
		reason = substr(line, RSTART + 1)
		# it passed the verifier, but the program was not run: say so
		if (match(name, / Did not run the program \([^)]*\)$/)) {
			reason = substr(name, RSTART + 1) ", " reason; name = substr(name, 1, RSTART - 1)
		} else reason = ""
	} else if (match(line, / FAIL/)) {
		st = "fail"; reason = substr(line, RSTART + 1)
		if (j == 0) name = substr(line, 1, RSTART - 1)
		if (reason == "FAIL" && nextra > j) reason = "FAIL: " extra[j + 1]
	} else {
		st = "fail"
		reason = "FAIL: no result (test_verifier exit " rc ")"
	}
	if (note != "") reason = reason " (" note ")"
	for (i = 1; i <= nextra - j; i++) extra[i] = extra[i + j]
	nextra -= j
	sub(/^#/, "", name); gsub(/#/, " ", name); gsub(/#/, " ", reason)
	if (st == "fail") {
		k = nextra < 20 ? nextra : 20
		for (i = 1; i <= k; i++) print "# " extra[i]
		if (nextra > k) print "# ... " (nextra - k) " more lines in test_verifier.out"
		print "not ok " n " " name " # " reason; nfail++
		id = name; sub(/ .*/, "", id); failed = failed " " id
	} else if (st == "skip") { print "ok " n " " name " # SKIP " reason; nskip++ }
	else { print "ok " n " " name (reason != "" ? " # " reason : ""); npass++ }
	cur = ""; nextra = 0
}
BEGIN { print "TAP version 13" }
/^#[0-9]+\/[up] / { emit(); cur = $0; next }
/^Summary: [0-9]+ PASSED, [0-9]+ SKIPPED, [0-9]+ FAILED$/ {
	emit(); summary = $0; sp = $2; ss = $4; sf = $6; next
}
{ if (cur != "") extra[++nextra] = $0; else print "# " $0 }
END {
	emit()
	print "1.." n
	bad = ""
	if (summary == "") bad = "test_verifier printed no summary (exit " rc ")"
	else {
		print "# " summary
		# each test is counted once by test_verifier, as here: a difference means a line
		# this script did not understand
		if (sp != npass || ss != nskip || sf != nfail)
			bad = "KTAP says " npass + 0 " passed, " nskip + 0 " skipped, " nfail + 0 " failed; test_verifier: " sp ", " ss ", " sf
	}
	while ((getline l < errf) > 0) { if (!(l in seen)) order[++nerr] = l; seen[l]++ }
	for (i = 1; i <= nerr; i++) print "# stderr, " seen[order[i]] " times: " order[i]
	if (bad != "") print "FAIL: tv-run: " bad
	else if (nfail > 0) print "FAIL: " nfail " of " n " failed:" failed
	else if (rc != 0) print "FAIL: test_verifier exit " rc " with no failed test"
	exit (bad != "" || rc != 0 || nfail > 0) ? 1 : 0
}' "$out"
