# Starts the S3 and DynamoDB emulators for a test, each behind store_proxy.py,
# on free ports of 127.0.0.1, and stops them when the test exits. Source it
# after tests/lib/common.sh ($W is the work directory), then:
#
#   aws_emulators_start BUCKET TABLE RETENTION_DAYS
#
# which exports
#   S3_ENDPOINT  DDB_ENDPOINT   the proxies, for ?endpoint= in the URIs
#   S3_CTL       DDB_CTL        the proxies' /__control URLs
#   S3_LOG       DDB_LOG        the proxies' request logs (JSON lines)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   fake credentials
# and returns 77 when node_modules lacks an emulator (run scripts/deps.sh).
# With AWS_PROXY_IDENTITIES naming a file, both proxies also accept the
# identities it lists, each allowed only its actions (store_proxy.py --identities).
#
# s3rver runs with --allow-mismatched-signatures because the proxy, which
# checks every request's SigV4 with botocore, rewrites some requests (faults,
# max-keys) before forwarding them.
AWS_PY=/usr/bin/python3
AWS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AWS_ROOT=$(cd "$AWS_DIR/../.." && pwd)
AWS_PIDS=()

aws_emulators_stop() {
	local p
	for p in "${AWS_PIDS[@]}"; do
		kill "$p" 2> /dev/null
	done
	for p in "${AWS_PIDS[@]}"; do
		wait "$p" 2> /dev/null
	done
	AWS_PIDS=()
}

# A port that was free a moment ago.
aws_free_port() {
	"$AWS_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# aws_wait_port_file FILE PID [SECONDS]
aws_wait_port_file() {
	local i
	for i in $(seq 1 $((${3:-10} * 10))); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2> /dev/null || return 1
		sleep 0.1
	done
	return 1
}

# aws_wait_http URL PID
aws_wait_http() {
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null "$1" && return 0
		kill -0 "$2" 2> /dev/null || return 1
		sleep 0.1
	done
	return 1
}

aws_emulators_start() {
	local bucket=$1 table=$2 days=$3 s3port ddbport
	local s3rver=$AWS_ROOT/node_modules/.bin/s3rver dynalite=$AWS_ROOT/node_modules/.bin/dynalite
	if [ ! -x "$s3rver" ] || [ ! -x "$dynalite" ]; then
		echo "s3rver or dynalite missing: run scripts/deps.sh" >&2
		return 77
	fi
	"$AWS_PY" -c 'import botocore' 2> /dev/null || { echo "python3-botocore missing: run scripts/deps.sh" >&2; return 77; }
	# s3rver knows one access key id, S3RVER; the secret is checked by the proxy.
	export AWS_ACCESS_KEY_ID=S3RVER
	AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64)
	export AWS_SECRET_ACCESS_KEY
	export AWS_REGION=eu-central-1
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_REGION
	export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
	trap 'aws_emulators_stop; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

	mkdir -p "$W/s3data"
	s3port=$(aws_free_port)
	# s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 keeps in its legacy provider.
	NODE_OPTIONS=--openssl-legacy-provider "$s3rver" -d "$W/s3data" -a 127.0.0.1 -p "$s3port" --silent --allow-mismatched-signatures \
		--configure-bucket "$bucket" > "$W/s3rver.log" 2>&1 &
	AWS_PIDS+=($!)
	aws_wait_http "http://127.0.0.1:$s3port/" $! || { echo "s3rver did not start" >&2; cat "$W/s3rver.log" >&2; return 1; }

	ddbport=$(aws_free_port)
	"$dynalite" --host 127.0.0.1 --port "$ddbport" --createTableMs 0 > "$W/dynalite.log" 2>&1 &
	AWS_PIDS+=($!)
	aws_wait_http "http://127.0.0.1:$ddbport/" $! || { echo "dynalite did not start" >&2; cat "$W/dynalite.log" >&2; return 1; }

	S3_LOG=$W/s3.log DDB_LOG=$W/ddb.log
	"$AWS_PY" "$AWS_DIR/store_proxy.py" --service s3 --upstream "http://127.0.0.1:$s3port" \
		--port-file "$W/s3proxy.port" --log "$S3_LOG" --retention-days "$days" \
		--enforce-if-none-match ${AWS_PROXY_IDENTITIES:+--identities "$AWS_PROXY_IDENTITIES"} 2> "$W/s3proxy.err" &
	AWS_PIDS+=($!)
	aws_wait_port_file "$W/s3proxy.port" $! || { echo "s3 proxy did not start" >&2; cat "$W/s3proxy.err" >&2; return 1; }
	"$AWS_PY" "$AWS_DIR/store_proxy.py" --service dynamodb --upstream "http://127.0.0.1:$ddbport" \
		--port-file "$W/ddbproxy.port" --log "$DDB_LOG" \
		${AWS_PROXY_IDENTITIES:+--identities "$AWS_PROXY_IDENTITIES"} 2> "$W/ddbproxy.err" &
	AWS_PIDS+=($!)
	aws_wait_port_file "$W/ddbproxy.port" $! || { echo "dynamodb proxy did not start" >&2; cat "$W/ddbproxy.err" >&2; return 1; }
	S3_ENDPOINT=http://127.0.0.1:$(cat "$W/s3proxy.port")
	DDB_ENDPOINT=http://127.0.0.1:$(cat "$W/ddbproxy.port")
	S3_CTL=$S3_ENDPOINT/__control DDB_CTL=$DDB_ENDPOINT/__control
	export S3_ENDPOINT DDB_ENDPOINT S3_CTL DDB_CTL S3_LOG DDB_LOG

	# The sequencer's table, as the Terraform module makes it: partition key `chain` (S).
	"$AWS_PY" - "$DDB_ENDPOINT" "$table" <<-'EOF' || { echo "cannot create the table" >&2; return 1; }
	import sys, botocore.session
	import os
	c = botocore.session.get_session().create_client("dynamodb", endpoint_url=sys.argv[1],
	                                                  region_name=os.environ["AWS_REGION"])
	c.create_table(TableName=sys.argv[2], BillingMode="PAY_PER_REQUEST",
	               AttributeDefinitions=[{"AttributeName": "chain", "AttributeType": "S"}],
	               KeySchema=[{"AttributeName": "chain", "KeyType": "HASH"}])
	c.get_waiter("table_exists").wait(TableName=sys.argv[2], WaiterConfig={"Delay": 0.1})
	EOF
}

# aws_fault CTL_URL JSON : sets the proxy's fault queue.
aws_fault() {
	curl -sf -X POST "$1" -d "$2" > /dev/null
}
