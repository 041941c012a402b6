#!/usr/bin/env python3
"""Reference HTTP server for bench/data-plane.sh: serves the files under ROOT
with GET and Range, HTTP/1.1 keep-alive, one thread per connection, bodies
sent with sendfile(2) straight from the OS page cache (no user-space copy,
no checksum, no cache of its own).

It is not a baseline the targets are judged against; it shows what plain
HTTP over loopback costs on this machine, so a gap between the worker and
`cat` can be split into "HTTP over TCP" and "the worker's own work".

    sendfile-server.py ROOT PORT
"""

import os
import re
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(sys.argv[1])
RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = os.path.normpath(os.path.join(ROOT, self.path.lstrip("/")))
        if not path.startswith(ROOT + os.sep) or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start, end, code = 0, size - 1, 200
            header = self.headers.get("Range")
            if header:
                m = RANGE.match(header)
                if not m or int(m.group(1)) >= size:
                    self.send_error(416)
                    return
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
                code = 206
            self.send_response(code)
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Content-Type", "application/octet-stream")
            if code == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            self.wfile.flush()
            offset, left = start, end - start + 1
            while left:
                sent = os.sendfile(self.connection.fileno(), f.fileno(), offset, left)
                if sent == 0:
                    break
                offset += sent
                left -= sent


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
