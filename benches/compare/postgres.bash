# Sourced by benches/compare/e2e and benches/compare/scale-out (not run on its
# own): a PostgreSQL database of the benchmark's own, created at the start and
# dropped at the end, and the CPU time the database server spends.
#
# The server is OCTOHOOK_BENCH_POSTGRES, a libpq URL of a database the script may
# connect to and create databases from; by default the local server over TCP
# without TLS, postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (a
# receiver next to its database; set sslmode=prefer or require to measure TLS
# too). Needs psql and python3.

bench_pg_admin_url="${OCTOHOOK_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
bench_pg_db=""
bench_pg_url=""

# bench_pg_create PREFIX: creates the database PREFIX_<pid>_<random>, sets
# bench_pg_db and bench_pg_url (the same server, that database). Fails, saying
# why on standard error, when psql is missing or the server does not answer.
bench_pg_create() {
    if ! command -v psql >/dev/null; then
        echo "postgres: psql not found (Debian: apt-get install postgresql-client)" >&2
        return 1
    fi
    local name
    name="$1_$$_$(printf '%04x' $RANDOM)"
    if ! psql "$bench_pg_admin_url" -X -q -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $name" >/dev/null 2>"${TMPDIR:-/tmp}/bench-pg-$$.err"; then
        echo "postgres: cannot create database $name at $(bench_pg_redacted "$bench_pg_admin_url"):" \
            "$(cat "${TMPDIR:-/tmp}/bench-pg-$$.err")" >&2
        rm -f "${TMPDIR:-/tmp}/bench-pg-$$.err"
        return 1
    fi
    rm -f "${TMPDIR:-/tmp}/bench-pg-$$.err"
    bench_pg_db="$name"
    bench_pg_url="$(python3 - "$bench_pg_admin_url" "$name" <<'PY'
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(url._replace(path="/" + sys.argv[2])))
PY
)"
}

# bench_pg_drop: drops the database bench_pg_create made (its connections are
# ended first), if any.
bench_pg_drop() {
    [ -n "$bench_pg_db" ] || return 0
    psql "$bench_pg_admin_url" -X -q -c "DROP DATABASE IF EXISTS $bench_pg_db WITH (FORCE)" \
        >/dev/null 2>&1 || echo "postgres: could not drop database $bench_pg_db" >&2
    bench_pg_db=""
}

# bench_pg_redacted URL: the URL without its password, for messages.
bench_pg_redacted() {
    python3 - "$1" <<'PY'
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
if url.password is not None:
    host = url.hostname + (f":{url.port}" if url.port else "")
    url = url._replace(netloc=f"{url.username}:***@{host}")
print(urllib.parse.urlunsplit(url))
PY
}

# bench_pg_snapshot FILE: writes the CPU time (user + system, clock ticks) of
# every PostgreSQL server process on this machine, one "pid ticks ours" line
# each, ours being 1 for a backend serving bench_pg_db (its process title is
# "postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE"). The server must run on this
# machine for the figures to mean anything.
bench_pg_snapshot() {
    python3 - "$1" "$bench_pg_db" <<'PY'
import os, sys
out, db = sys.argv[1], sys.argv[2]
lines = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        if stat[stat.index("(") + 1:stat.rindex(")")] != "postgres":
            continue
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace").split()
    except (OSError, ValueError):
        continue  # gone meanwhile
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    if title[:1] == ["postgres:"] and len(title) > 1 and title[1].endswith(":"):
        del title[1]  # the cluster's name ("15/main:"), when it has one
    ours = len(title) >= 3 and title[0] == "postgres:" and title[2] == db
    lines.append(f"{pid} {ticks} {int(ours)}\n")
with open(out, "w") as f:
    f.writelines(lines)
PY
}

# bench_pg_delta BEFORE AFTER: "ours cluster", the clock ticks PostgreSQL spent
# between two snapshots in bench_pg_db's backends, and in all its processes
# (background writers included, and any other database's backends: on a shared
# server the second is an upper bound). A process started in between counts in
# full; one that ended in between is lost.
bench_pg_delta() {
    awk 'NR == FNR { before[$1] = $2; next }
        { d = $2 - ($1 in before ? before[$1] : 0); if (d < 0) d = 0; cluster += d; if ($3) ours += d }
        END { print ours + 0, cluster + 0 }' "$1" "$2"
}
