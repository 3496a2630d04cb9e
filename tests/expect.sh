#!/usr/bin/env bash
# expect.sh CODE NEEDLE -- COMMAND...
# Runs COMMAND; passes when it exits with CODE and its stderr contains NEEDLE
# (a fixed string; "" accepts any message). Used by the bad-input CLI tests.
set -u
want_code=$1; needle=$2; shift 2
[ "$1" = "--" ] && shift
err=$(mktemp); out=$(mktemp)
"$@" >"$out" 2>"$err"
code=$?
status=0
if [ "$code" -ne "$want_code" ]; then
  echo "exit code $code, expected $want_code" >&2; status=1
fi
if [ -n "$needle" ] && ! grep -qF -- "$needle" "$err"; then
  echo "stderr lacks: $needle" >&2; status=1
fi
if [ $status -ne 0 ]; then
  echo "--- command: $*" >&2; echo "--- stderr:" >&2; cat "$err" >&2; echo "--- stdout:" >&2; head -c 2000 "$out" >&2
fi
rm -f "$err" "$out"
exit $status
