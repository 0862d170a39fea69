#!/usr/bin/env python3
"""Log growth of `octohook serve` (SQLite inbox, --admin-bind) under unsigned requests with
400 KiB X-GitHub-Delivery headers (3,000 by default), over 4 kept-alive connections.

log-flood.py BIN text|json [REQUESTS]"""
import os, re, socket, subprocess, sys, tempfile, threading, time

binary, fmt = sys.argv[1], sys.argv[2]
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
tmp = tempfile.mkdtemp(prefix="flood-")
stderr_path = os.path.join(tmp, "stderr.log")
env = dict(os.environ, GITHUB_WEBHOOK_SECRET="It's a Secret to Everybody")
for name in ("OCTOHOOK_LOG", "OCTOHOOK_LOG_FORMAT", "OCTOHOOK_DATABASE_URL"):
    env.pop(name, None)
with open(stderr_path, "wb") as stderr:
    child = subprocess.Popen([binary, "--log-format", fmt, "serve", "--bind", "127.0.0.1:0",
                              "--admin-bind", "127.0.0.1:0", "--db", os.path.join(tmp, "inbox.db")],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
try:
    deadline = time.time() + 30
    while True:
        text = open(stderr_path, "rb").read().decode("utf-8", "replace")
        m = re.search(r"listening on http://([0-9.:]+)/", text)
        if m:
            host, port = m.group(1).rsplit(":", 1)
            break
        assert time.time() < deadline, text
        time.sleep(0.05)
    time.sleep(0.3)
    before = os.path.getsize(stderr_path)
    guid = "g" * (400 * 1024)
    request = ("POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-github-event: push\r\n"
               f"x-github-delivery: {guid}\r\ncontent-type: application/json\r\n"
               "content-length: 0\r\n\r\n").encode()
    statuses = {}
    lock = threading.Lock()

    def read_response(sock, buf):
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(rest) < length:
            rest += sock.recv(65536)
        return int(head[9:12]), rest[length:]

    def worker(count):
        sock = socket.create_connection((host, int(port)))
        buf = b""
        for _ in range(count):
            try:
                sock.sendall(request)
                status, buf = read_response(sock, buf)
            except (EOFError, ConnectionError):
                sock = socket.create_connection((host, int(port)))
                buf = b""
                status = "reconnect"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    started = time.time()
    threads = [threading.Thread(target=worker, args=(requests // 4,)) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    took = time.time() - started
    time.sleep(1.1)
    # One more rejection: flushes a rate limiter's summary.
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(("POST / HTTP/1.1\r\nhost: x\r\nx-github-event: push\r\nx-github-delivery: last\r\n"
                      "content-type: application/json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").encode())
        while sock.recv(65536): pass
    time.sleep(0.3)
    grown = os.path.getsize(stderr_path) - before
    print(f"{os.path.basename(binary)} {fmt}: {requests} requests in {took:.1f}s, statuses {statuses}, "
          f"log grew by {grown} bytes")
finally:
    child.kill(); child.wait()
    subprocess.run(["rm", "-rf", tmp])
