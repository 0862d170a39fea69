"""Times a stdlib X-Hub-Signature-256 check per body size; benches/compare/verify runs it.

The check is what a Python receiver writes: hmac.new(secret, body, hashlib.sha256)
.hexdigest(), then hmac.compare_digest against the header (constant time).

Usage: python3 verify-python.py [--seconds S] [--sizes 64,1024,...]
Prints the same tab-separated lines as verify-rs: `sig<TAB>size<TAB>sha256=<hex>`
and `python-hmac<TAB>size<TAB>ns_per_op` (median over batches). Exits with status 2
if the check accepts a wrong signature or rejects a right one.
"""

import argparse
import hashlib
import hmac
import sys
import time

SECRET = b"It's a Secret to Everybody"
NAME = "python-hmac"
TARGET_BATCHES = 20
MIN_BATCHES = 5
DEFAULT_SIZES = [64, 1 << 10, 8 << 10, 64 << 10, 1 << 20, 25 << 20]


def verify(secret: bytes, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def json_body(size: int) -> bytes:
    """The same bytes verify-rs builds: a JSON object of exactly `size` bytes."""
    head = b'{"action":"opened","padding":"'
    tail = b'"}'
    fill = b"abcdefghijklmnopqrstuvwxyz0123456789"
    n = size - len(head) - len(tail)
    padding = (fill * (n // len(fill) + 1))[:n]
    return head + padding + tail


def flip_last_digit(signature: str) -> str:
    return signature[:-1] + ("1" if signature[-1] == "0" else "0")


def measure(seconds: float, op) -> float | None:
    """Median ns per call over batches filling `seconds`, after a fifth of it warming up."""
    budget = int(seconds * 1e9)
    clock = time.perf_counter_ns
    start = clock()
    warm_ops = 0
    while warm_ops == 0 or clock() - start < budget // 5:
        if op() is not True:
            return None
        warm_ops += 1
    per_op = (clock() - start) / warm_ops
    batch = max(1, int(budget / TARGET_BATCHES / per_op))
    samples = []
    start = clock()
    while len(samples) < MIN_BATCHES or clock() - start < budget:
        batch_start = clock()
        for _ in range(batch):
            if op() is not True:
                return None
        samples.append((clock() - batch_start) / batch)
    samples.sort()
    return samples[len(samples) // 2]


def sizes(text: str) -> list[int]:
    values = [int(s) for s in text.split(",")]
    if any(v < 32 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be at least 32: {text}")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--sizes", type=sizes, default=DEFAULT_SIZES)
    options = parser.parse_args()
    if not options.seconds > 0:
        parser.error("--seconds must be positive")

    for size in options.sizes:
        body = json_body(size)
        assert len(body) == size
        # Signed with hashlib directly so the reference is not the code under test.
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in SECRET.ljust(64, b"\0")) + body)
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in SECRET.ljust(64, b"\0")) + inner.digest())
        signature = "sha256=" + outer.hexdigest()
        accepts = verify(SECRET, body, signature)
        rejects = not verify(SECRET, body, flip_last_digit(signature))
        if not (accepts and rejects):
            print(
                f"verify-python.py: {size}-byte body: correct signature accepted: {accepts}, "
                f"wrong one rejected: {rejects}",
                file=sys.stderr,
            )
            return 2
        print(f"sig\t{size}\t{signature}", flush=True)
        ns = measure(options.seconds, lambda: verify(SECRET, body, signature))
        if ns is None:
            print(f"verify-python.py: {size}-byte body: rejected a correct signature while timing", file=sys.stderr)
            return 2
        print(f"{NAME}\t{size}\t{ns:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
