#!/usr/bin/env python3
"""Prints N distinct loopback TCP ports that are free right now, for the
benchmark scripts' daemons.

They come from 10000-32000, below the kernel's ephemeral range (32768 and
up), as the tests pick theirs: a port from bind(("", 0)) comes from that
range, and an outgoing connection can take it before the daemon binds it.

    ports.py N
"""

import random
import socket
import sys

LOW, HIGH = 10000, 32000

count = int(sys.argv[1])
ports = []
port = random.randrange(LOW, HIGH)
for _ in range(HIGH - LOW):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            ports.append(port)
        except OSError:
            pass
    if len(ports) == count:
        break
    port = LOW + (port + 1 - LOW) % (HIGH - LOW)
if len(ports) < count:
    sys.exit(f"ports.py: found only {len(ports)} free ports in {LOW}-{HIGH}, {count} asked")
print(*ports)
