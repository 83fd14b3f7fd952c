# scripts/deps.sh: the Debian packages ringmq needs, and how to install the
# missing ones. Sourced by scripts/run and scripts/test (not run by itself).

# To build the C programs and run the unit tests.
BUILD_PKGS=(build-essential cmake pkg-config libwebsockets-dev libmosquitto-dev
	mosquitto mosquitto-dev mosquitto-clients libjansson-dev libsqlite3-dev
	libssl-dev libev-dev libcurl4-openssl-dev sqlite3 clang libclang-rt-14-dev
	libpq-dev)
# To run the integration tests (Debian's python3, /usr/bin/python3).
TEST_PKGS=(python3 python3-pytest python3-websocket python3-websockets
	python3-paho-mqtt python3-jsonschema iproute2 util-linux
	chromium chromium-driver python3-selenium
	python3-django python3-djangorestframework python3-djangorestframework-simplejwt
	python3-jwt python3-cryptography openssl python3-venv
	python3-prometheus-client systemd coturn prometheus nginx ejabberd
	postgresql-15 python3-psycopg2)
# scripts/run: curl for its HTTP calls, python3-websockets for the example.
RUN_PKGS=(curl python3 python3-websockets)

# install_missing PKG...: apt-get installs those of PKG not installed yet
# (one `apt-get update` first, only when something is missing).
install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "all ${#} packages present"
		return 0
	fi
	echo "installing: ${missing[*]}"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
	case " ${missing[*]} " in
	*" ejabberd "*) ejabberd_service_off ;;
	esac
}

# The ejabberd package starts its own service (and an epmd on every
# interface); tests start nodes of their own (scripts/cluster): stop it.
ejabberd_service_off() {
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" systemctl disable --now ejabberd >/dev/null 2>&1 || "${sudo[@]}" service ejabberd stop || true
	"${sudo[@]}" su -s /bin/sh -c 'epmd -kill' ejabberd >/dev/null 2>&1 || true
}
