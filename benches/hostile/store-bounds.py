#!/usr/bin/env python3
"""What a stranger, or a replayer of one signed delivery, can make the inbox spend, against a given `octohook` binary.

store-bounds.py BIN scrape ROWS [DELIVERIES [PAUSE_MS]]
                                     p50/p99 delivery latency idle vs 8 scrapers (each pausing PAUSE_MS
                                     between scrapes, 0 by default), /metrics times
store-bounds.py BIN headers          stored header bytes per row with 90 padding headers of 5 KB
store-bounds.py BIN memory SECONDS   RSS of serve --memory-inbox under a padding-header flood
"""
import hashlib, hmac, http.client, json, os, re, sqlite3, subprocess, sys, tempfile, threading, time, uuid

SECRET = b"It's a Secret to Everybody"
BODY = b'{"ref":"refs/heads/main"}'


def headers_for(body, padding=0, size=5000):
    h = [
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", str(uuid.uuid4())),
        ("X-GitHub-Hook-ID", "42"),
        ("User-Agent", "GitHub-Hookshot/test"),
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()),
    ]
    h += [(f"X-GitHub-Padding-{n}", "p" * size) for n in range(padding)]
    return h


def post(conn, body, headers):
    conn.putrequest("POST", "/", skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    r = conn.getresponse()
    r.read()
    return r.status


def start(binary, args):
    p = subprocess.Popen([binary, "serve", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0", *args],
                         env={**os.environ, "GITHUB_WEBHOOK_SECRET": SECRET.decode()},
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    main = admin = None
    while main is None or admin is None:
        line = p.stderr.readline()
        if not line:
            raise SystemExit("serve exited")
        m = re.search(r"admin endpoints at http://([^/]+)/", line)
        if m:
            admin = m.group(1)
        m = re.search(r"listening on http://([^/]+)/", line)
        if m:
            main = m.group(1)
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, main, admin


def conn(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=60)


def pct(xs, q):
    xs = sorted(xs)
    return xs[max(1, -(-len(xs) * q // 100)) - 1]


def fill(path, rows):
    db = sqlite3.connect(path)
    headers = json.dumps([["content-type", "application/json"], ["user-agent", "GitHub-Hookshot/044aadd"],
                          ["x-github-event", "push"], ["x-github-hook-id", "42"],
                          ["x-github-hook-installation-target-type", "repository"],
                          ["x-github-hook-installation-target-id", "7"],
                          ["x-hub-signature", "sha1=" + "ab" * 20], ["x-hub-signature-256", "sha256=" + "ab" * 32]])
    now = int(time.time() * 1000)
    db.executescript("PRAGMA synchronous = OFF;")
    db.execute("BEGIN")
    db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
               "INSERT INTO octohook_deliveries (id, hook_id, has_hook_id, guid, event, content_type, headers, body, "
               "received_at, status, attempts, claim_seq, updated_at) SELECT i, 42, 1, 'filler-' || i, 'push', "
               "'application/json', ?, x'', ?, 'done', 1, 1, ? FROM n", (rows, headers, now, now))
    db.execute("INSERT INTO octohook_delivery_bodies (id, body) SELECT id, CAST('{}' AS BLOB) FROM octohook_deliveries")
    db.commit()
    db.close()


def scrape(binary, rows, rounds=300, pause=0.0):
    d = tempfile.mkdtemp(prefix="stores-measure-")
    path = os.path.join(d, "inbox.db")
    p, main, admin = start(binary, ["--db", path])  # creates and migrates the file
    p.kill(); p.wait()
    fill(path, rows)
    p, main, admin = start(binary, ["--db", path])
    try:
        c = conn(main)
        def run(n):
            out = []
            for _ in range(n):
                t = time.perf_counter()
                assert post(c, BODY, headers_for(BODY)) == 200
                out.append(time.perf_counter() - t)
            return out
        run(20)
        idle = run(300)
        stop = threading.Event()
        scrape_times, health = [], []
        def scraper():
            s = conn(admin)
            while not stop.is_set():
                t = time.perf_counter()
                s.request("GET", "/metrics"); r = s.getresponse(); r.read()
                scrape_times.append(time.perf_counter() - t)
                if pause:
                    time.sleep(pause)
        def checker():
            s = conn(admin)
            while not stop.is_set():
                s.request("GET", "/healthz"); r = s.getresponse(); r.read()
                health.append(r.status)
                time.sleep(0.1)
        threads = [threading.Thread(target=scraper) for _ in range(8)] + [threading.Thread(target=checker)]
        cpu_before, wall_before = cpu_seconds(p.pid), time.perf_counter()
        for t in threads: t.start()
        loaded = run(rounds)
        stop.set()
        for t in threads: t.join()
        cpu, wall = cpu_seconds(p.pid) - cpu_before, time.perf_counter() - wall_before
        ms = lambda x: f"{x * 1000:.1f} ms"
        print(f"rows={rows} idle p50 {ms(pct(idle, 50))} p99 {ms(pct(idle, 99))}; "
              f"8 scrapers p50 {ms(pct(loaded, 50))} p99 {ms(pct(loaded, 99))}; "
              f"/metrics p50 {ms(pct(scrape_times, 50))} p99 {ms(pct(scrape_times, 99))} ({len(scrape_times)} scrapes); "
              f"/healthz non-200: {sum(1 for s in health if s != 200)} of {len(health)}; "
              f"serve used {cpu:.2f} s of CPU in {wall:.2f} s "
              f"({cpu / max(1, len(scrape_times) + len(loaded)) * 1e6:.0f} µs per request)")
    finally:
        p.kill(); p.wait()
        import shutil; shutil.rmtree(d, ignore_errors=True)


def stored_headers(binary):
    d = tempfile.mkdtemp(prefix="stores-measure-")
    path = os.path.join(d, "inbox.db")
    p, main, admin = start(binary, ["--db", path])
    try:
        status = post(conn(main), BODY, headers_for(BODY, padding=90))
        time.sleep(0.5)
        db = sqlite3.connect(path)
        (length,) = db.execute("SELECT length(headers) FROM octohook_deliveries").fetchone()
        print(f"answer {status}; stored headers column: {length} bytes; db file {os.path.getsize(path)} bytes")
    finally:
        p.kill(); p.wait()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) // 1024


def memory(binary, seconds):
    p, main, admin = start(binary, ["--memory-inbox"])
    try:
        before = rss(p.pid)
        stop = threading.Event()
        counts = {}
        def flood(i):
            c = conn(main)
            while not stop.is_set():
                try:
                    status = post(c, BODY, headers_for(BODY, padding=90))
                except OSError:
                    status = "reset"
                counts[status] = counts.get(status, 0) + 1
                if status != 200:
                    c.close()
                    c = conn(main)
        threads = [threading.Thread(target=flood, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads: t.join()
        print(f"RSS {before} MB before, {rss(p.pid)} MB after {seconds} s of replays; answers {counts}")
    finally:
        p.kill(); p.wait()


if __name__ == "__main__":
    binary, mode = sys.argv[1], sys.argv[2]
    if mode == "scrape":
        scrape(binary, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 300,
               float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.0)
    elif mode == "headers":
        stored_headers(binary)
    elif mode == "memory":
        memory(binary, float(sys.argv[3]))
