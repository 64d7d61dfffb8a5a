# tests/citus/tap.sh: what the Citus shell tests share (sourced). TAP output: check prints one
# test line, finish the plan and the exit status. TAP_PREFIX, when set, starts every description.
failed=0 count=0
check() {  # check DESCRIPTION EXPECTED ACTUAL
  count=$((count + 1))
  if [ "$2" = "$3" ]; then
    echo "ok $count - ${TAP_PREFIX:-}$1"
  else
    echo "not ok $count - ${TAP_PREFIX:-}$1 (want $2, have $3)"
    failed=$((failed + 1))
  fi
}
finish() {
  echo "1..$count"
  [ "$failed" -eq 0 ]
}
# row_uuid TOKEN: the row id a token starts with (<kind>_<32 hex>_<secret>), as a uuid; the
# secret stays in the caller.
row_uuid() {
  local hex=${1:4:32}
  echo "${hex:0:8}-${hex:8:4}-${hex:12:4}-${hex:16:4}-${hex:20:12}"
}
