# SPDX-License-Identifier: GPL-2.0
# KTAP results for lowdown's shell selftests: source it, set $ntests, call
# result STATUS NAME per test, totals at the end.

pass=0 fail=0 skip=0 n=0

# result STATUS NAME: "ok" when STATUS is 0, skipped when it is 4 (the
# kselftest skip code)
result() {
	n=$((n + 1))
	if [ "$1" = 4 ]; then
		skip=$((skip + 1))
		echo "ok $n $2 # SKIP"
	elif [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
	fi
}

# totals: the kselftest "# Totals:" line; succeeds when nothing failed
totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" = 0 ]
}
