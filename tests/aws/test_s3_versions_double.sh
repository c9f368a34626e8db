#!/usr/bin/env bash
# Self-test of the S3 versions double: botocore's S3 client, and requests built
# and signed beside it (aws-chunked bodies, CRC32C/CRC64NVME, conditional
# writes), against the double run with --log, as the reconcile tests run it.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import botocore' 2> /dev/null || { echo "skip: no python3-botocore"; exit 77; }
W=$(mktemp -d "${TMPDIR:-/tmp}/tfa-s3d.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2> /dev/null && wait "$PID" 2> /dev/null
	rm -rf "$W"
}
trap cleanup EXIT
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HTTP_PROXY http_proxy
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
"$PY" "$HERE/s3_versions_double.py" --port-file "$W/port" --page-size 2 --log "$W/log" &
PID=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "the S3 double did not start"; exit 2; }
# Each call has 10 s; a double that stops answering fails the test rather than hanging it.
timeout 300 "$PY" "$HERE/s3_versions_double_client.py" "http://127.0.0.1:$(cat "$W/port")"
rc=$?
n=$(grep -c . "$W/log")
if [ "$rc" -eq 0 ] && [ "$n" -gt 50 ] && ! grep -qi 'authorization\|secret' "$W/log"; then
	echo "ok - the log has a line a request ($n), and no credential"
else
	echo "FAIL: client exit $rc, $n log lines" >&2
	tail -20 "$W/log" >&2
	exit 1
fi
