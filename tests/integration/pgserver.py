"""pgserver: a throwaway PostgreSQL 15 for the tests (rules on PostgreSQL).

PgServer() runs initdb into a temp dir (as the postgres user when we are
root: PostgreSQL refuses to run as root), starts it on a free loopback port
with its unix socket in that dir, and .stop() ends it by pg_ctl (its PID
file) and removes the dir. .new_database() makes an empty database and
returns its postgresql:// conninfo. The system cluster is never touched.

As a script: `pgserver.py CMD...` runs CMD with RINGMQ_TEST_PG set to a
fresh database's conninfo (the store unit test on PostgreSQL)."""
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

PG_BIN = os.environ.get("RINGMQ_PG_BIN", "/usr/lib/postgresql/15/bin")
START_WAIT_S = 30


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        if not os.access(os.path.join(PG_BIN, "initdb"), os.X_OK):
            raise RuntimeError(f"no PostgreSQL in {PG_BIN} (apt-get install postgresql-15)")
        self.dir = tempfile.mkdtemp(prefix="ringmq-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self._names = itertools.count(1)
        self._as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", self.user, "--auth=trust",
                        "--locale=C", "--encoding=UTF8", "--no-sync"])
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
                " -c fsync=off -c max_connections=50 -c shared_buffers=16MB")
        self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"),
                        "-o", opts, "-w", "-t", str(START_WAIT_S), "start"])

    def _as_owner(self, argv):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=self.dir)

    def conninfo(self, db="postgres"):
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="postgres"):
        """Runs sql with psql; its output (unaligned, tuples only)."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-d", self.conninfo(db), "-c", sql], check=True, capture_output=True, text=True)
        return out.stdout

    def new_database(self):
        name = f"ringmq_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.conninfo(name)

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    server = PgServer()
    try:
        env = dict(os.environ, RINGMQ_TEST_PG=server.new_database())
        sys.exit(subprocess.run(sys.argv[1:], env=env).returncode)
    finally:
        server.stop()
