"""A signed-push-shaped JSON body of an exact size, shared by benches/compare/e2e
and benches/compare/scale-out: a realistic push payload (commits and all), padded
with spaces to exactly SIZE bytes.

    python3 benches/compare/push_body.py SIZE > body.json
"""
import json
import sys


def push(size):
    push = {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "76ae82c7b1a177c8d03f9e96e0adf2466113728f",
        "repository": {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
                       "name": "Hello-World", "full_name": "octocat/Hello-World",
                       "private": False, "owner": {"login": "octocat", "id": 1},
                       "html_url": "https://github.com/octocat/Hello-World",
                       "default_branch": "main"},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
        "created": False, "deleted": False, "forced": False,
        "compare": "https://github.com/octocat/Hello-World/compare/6113728f27ae...76ae82c7b1a1",
        "commits": [],
        "padding": "",
    }
    n = 0
    while True:
        push["commits"].append({
            "id": f"{n:040x}",
            "tree_id": f"{n + 1:040x}",
            "distinct": True,
            "message": f"Commit number {n}: update the readme",
            "timestamp": "2024-05-01T12:00:00Z",
            "url": f"https://github.com/octocat/Hello-World/commit/{n:040x}",
            "author": {"name": "Octo Cat", "email": "octocat@github.com", "username": "octocat"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [], "removed": [], "modified": ["README.md"],
        })
        if len(json.dumps(push, separators=(",", ":"))) > size:
            push["commits"].pop()
            break
        n += 1
    push["head_commit"] = push["commits"][-1] if push["commits"] else None
    while len(json.dumps(push, separators=(",", ":"))) > size:
        push["commits"].pop()
    push["padding"] = " " * (size - len(json.dumps(push, separators=(",", ":"))))
    body = json.dumps(push, separators=(",", ":")).encode()
    assert len(body) == size, (len(body), size)
    json.loads(body)
    return body


if __name__ == "__main__":
    sys.stdout.buffer.write(push(int(sys.argv[1])))
