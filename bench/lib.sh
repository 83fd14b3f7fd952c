# bench/lib.sh: starting and stopping the systems under test for bench/run.
# Sourced, not run. Every process started here is recorded in BENCH_PIDS
# and stopped by bench_stop_all (bench/run traps EXIT with it). Ports are
# free loopback ports picked at start; state goes under $BENCH_TMP.

BENCH_PIDS=()
BENCH_BOUND=20   # seconds any part may take to come up

bench_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_wait_port() { # bench_wait_port PORT PID WHAT
	local i
	for ((i = 0; i < BENCH_BOUND * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || { echo "bench: $3 exited at start (log in $BENCH_TMP)" >&2; return 1; }
		sleep 0.1
	done
	echo "bench: $3 did not listen on $1 within ${BENCH_BOUND}s" >&2
	return 1
}

bench_wait_http() { # bench_wait_http URL WHAT
	local i
	for ((i = 0; i < BENCH_BOUND * 10; i++)); do
		if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench: $2 did not answer $1 within ${BENCH_BOUND}s" >&2
	return 1
}

# bench_conf_value KEY DEFAULT: KEY's value in the repo's mosquitto.conf
# (the shipped limits), or DEFAULT when the file does not set it.
bench_conf_value() {
	local v
	v=$(awk -v k="$1" '$1 == k { v = $2 } END { print v }' mosquitto.conf)
	echo "${v:-$2}"
}

# bench_broker NAME: mosquitto on a free port; sets MQTT_PORT and BROKER_PID.
# The conf mirrors the repo's mosquitto.conf minus persistence, auth and
# logging: its queue and in-flight limits are the repo's (what ships), unless
# $BENCH_INFLIGHT, $BENCH_QUEUED or $BENCH_QUEUED_BYTES say otherwise.
bench_broker() {
	local name=$1 conf
	MQTT_PORT=$(bench_free_port)
	conf=$BENCH_TMP/$name-mosquitto.conf
	cat >"$conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
max_inflight_messages ${BENCH_INFLIGHT:-$(bench_conf_value max_inflight_messages 20)}
max_queued_messages ${BENCH_QUEUED:-$(bench_conf_value max_queued_messages 1000)}
max_queued_bytes ${BENCH_QUEUED_BYTES:-$(bench_conf_value max_queued_bytes 0)}
max_packet_size 262144
log_dest stderr
log_type error
log_type warning
log_type ${BENCH_LOG_TYPE:-notice}
CONF
	mosquitto -c "$conf" >"$BENCH_TMP/$name-mosquitto.log" 2>&1 &
	BROKER_PID=$!
	BENCH_PIDS+=("$BROKER_PID")
	bench_wait_port "$MQTT_PORT" "$BROKER_PID" mosquitto
}

# bench_ringmq: broker + rules + bridge; sets HTTP_PORT, RULES_PID, BRIDGE_PID.
# $BENCH_BRIDGE / $BENCH_RULES name other binaries (A/B runs of a patched build).
bench_ringmq() {
	bench_broker ringmq
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BENCH_TMP/jwt_secret"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BENCH_TMP/api_key"
	rm -f "$BENCH_TMP"/ringmq.db*
	"${BENCH_RULES:-$BUILD/bridge/rules/ringmq-rules}" --mqtt-port "$MQTT_PORT" --db "$BENCH_TMP/ringmq.db" \
		--ring-timeout-ms 3600000 --client-id "bench-rules-$$" >"$BENCH_TMP/rules.log" 2>&1 &
	RULES_PID=$!
	BENCH_PIDS+=("$RULES_PID")
	HTTP_PORT=$(bench_free_port)
	"${BENCH_BRIDGE:-$BUILD/bridge/edge/ringmq-bridge}" --port "$HTTP_PORT" --mqtt-port "$MQTT_PORT" \
		--jwt-secret-file "$BENCH_TMP/jwt_secret" --api-key-file "$BENCH_TMP/api_key" \
		--rate 1000000 --burst 1000000 --send-queue 16777216 --initiate-per-minute 60000 --initiate-burst 10000 >"$BENCH_TMP/bridge.log" 2>&1 &
	BRIDGE_PID=$!
	BENCH_PIDS+=("$BRIDGE_PID")
	bench_wait_port "$HTTP_PORT" "$BRIDGE_PID" ringmq-bridge
	bench_wait_http "http://127.0.0.1:$HTTP_PORT/healthz" ringmq-bridge
}

# bench_stop_all: SIGTERM to every process started here, newest first, then
# SIGKILL after 5 s to any still there.
bench_stop_all() {
	local i pid
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${BENCH_PIDS[i]}" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BENCH_PIDS=()
}

# bench_channels: redis + daphne with bench/channels; sets HTTP_PORT,
# REDIS_PID, DAPHNE_PID. Uses the secrets bench_ringmq wrote, or makes them.
bench_channels() {
	[ -s "$BENCH_TMP/jwt_secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BENCH_TMP/jwt_secret"
	[ -s "$BENCH_TMP/api_key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BENCH_TMP/api_key"
	local redis_port
	redis_port=$(bench_free_port)
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --maxclients 10000 \
		>"$BENCH_TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	BENCH_PIDS+=("$REDIS_PID")
	bench_wait_port "$redis_port" "$REDIS_PID" redis-server
	rm -f "$BENCH_TMP"/channels.db*
	export BENCH_DB=$BENCH_TMP/channels.db BENCH_REDIS_PORT=$redis_port
	export BENCH_JWT_SECRET_FILE=$BENCH_TMP/jwt_secret BENCH_API_KEY_FILE=$BENCH_TMP/api_key
	export PYTHONPATH=$PWD/bench/channels DJANGO_SETTINGS_MODULE=benchsite.settings
	/usr/bin/python3 -m django migrate --run-syncdb -v 0 >"$BENCH_TMP/migrate.log" 2>&1
	HTTP_PORT=$(bench_free_port)
	/usr/bin/python3 -m daphne -b 127.0.0.1 -p "$HTTP_PORT" benchsite.asgi:application \
		>"$BENCH_TMP/daphne.log" 2>&1 &
	DAPHNE_PID=$!
	BENCH_PIDS+=("$DAPHNE_PID")
	bench_wait_port "$HTTP_PORT" "$DAPHNE_PID" daphne
	bench_wait_http "http://127.0.0.1:$HTTP_PORT/healthz" daphne
}
