# SPDX-License-Identifier: GPL-2.0
# KTAP results for lowdown's shell selftests, written by kselftest's own
# helpers (tools/testing/selftests/kselftest/ktap_helpers.sh, installed
# beside the suites' directory): source it, call result STATUS NAME per
# test, totals at the end.

. "$(dirname "${BASH_SOURCE[0]}")/../kselftest/ktap_helpers.sh" || exit 1

# result STATUS NAME: "ok" when STATUS is $KSFT_PASS, skipped when it is
# $KSFT_SKIP, "not ok" otherwise
result() {
	case $1 in
	"$KSFT_PASS") ktap_test_pass "$2" ;;
	"$KSFT_SKIP") ktap_test_skip "$2" ;;
	*) ktap_test_fail "$2" ;;
	esac
}

# totals: the kselftest "# Totals:" line; succeeds when nothing failed
totals() {
	ktap_print_totals
	[ "$KTAP_CNT_FAIL" = 0 ]
}
