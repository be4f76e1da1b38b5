#!/usr/bin/env python3
"""A stand-in extension backend that records what Argo CD forwards.

    header-recorder.py <jsonl file> <port file> [name]

Listens on 127.0.0.1 on a port the kernel picks (written to <port file> once
listening), answers every request with 200 {"ok":true,"backend":name} and
appends one JSON line per request to <jsonl file>:

    {"backend": name, "method": "GET", "path": "/api/v1/status?x=1",
     "headers": [["Host", "..."], ...], "body": "..."}

Headers are kept in arrival order with duplicates. Standard library only.
Used by real-argocd.sh smoke; stopped with SIGTERM.
"""

import http.server
import json
import os
import signal
import sys
import threading


def main() -> None:
    out_path, port_path = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "recorder"
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Go's transport expects

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            record = {
                "backend": name,
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }
            with lock, open(out_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            payload = json.dumps({"ok": True, "backend": name}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

        def log_message(self, fmt: str, *args) -> None:  # keep stderr quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(port_path + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(port_path + ".tmp", port_path)
    server.serve_forever()


if __name__ == "__main__":
    main()
