#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs under fuzz/seeds/<target>/ (committed; rerun after
changing an input layout in src/fuzz.rs). Seeds start the fuzzers from valid inputs, which they
would otherwise take minutes to find."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# cron: flags (bit 0 crontab, the rest a zone index), i64 seconds, u32 nanoseconds, expression.
CRON = [
    (0, "0 0 3 * * *"), (0, "*/5 * * * * ?"), (0, "0 30 2 * * *"), (0, "0 0 0 29 2 ?"),
    (0, "0 0 9-17/2 * jan-mar mon-fri"), (0, "@every 1h30m"), (0, "@every 1.5s"),
    (0, "@weekly"), (0, "0 0 0 L * *"), (1, "15 2 * * 7"), (1, "*/15 * 1,15 * *"),
    (1, "@hourly"), (0, "1,,2 0 0 1 1 *"), (0, "0 0 0 31 4,6 *"),
]
for i, (syntax, expr) in enumerate(CRON):
    zone = (i * 3) % 13
    when = 1_700_000_000 + i * 86_400 * 45
    write("cron", f"seed-{i:02}", bytes([syntax | zone << 1]) + struct.pack("<qI", when, 0) + expr.encode())

# job_json: request bodies.
JOBS = [
    {"name": "nightly", "group": "g", "cron": "0 0 3 * * *", "target": "shell", "params": "true"},
    {"id": "j1", "name": "n", "group": "g", "cron": "*/10 * * * *", "cronSyntax": "crontab",
     "status": 2, "target": "http", "params": "{\"url\":\"http://x\"}", "version": 3,
     "timezone": "America/Santiago", "misfire": "all", "misfireLimit": 5, "startingDeadline": 30,
     "concurrency": "forbid", "timeout": 60,
     "retries": {"count": 3, "backoff": 5, "multiplier": 2, "maxBackoff": 60},
     "route": "sharded", "shards": 4,
     "alert": {"webhook": "https://h/x", "email": ["a@b"], "on": ["failure", "lost"], "x": [1]}},
    {"JOBID": "legacy", "Name": "n", "GROUP": "g", "cron": "@every 1m", "status": 1, "remark": None},
]
for i, job in enumerate(JOBS):
    write("job_json", f"seed-{i:02}", json.dumps(job, ensure_ascii=False).encode())


# worker_messages: length-delimited forest.v1.WorkerMessage frames.
def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(num << 3 | 2) + varint(len(data)) + data


def msg(*fields):
    return b"".join(fields)


def frame(kind, body):
    m = field(kind, body)
    return varint(len(m)) + m


HELLO = frame(1, msg(field(1, "trade"), field(2, "w-1"), field(3, "shell"), field(4, 8),
                     field(5, msg(field(1, "zone"), field(2, "a"))), field(6, "forest-sdk/0.1.0"),
                     field(7, "s1"), field(8, "old-run")))
ID = "2026112400000000000020261124000000000001"
write("worker_messages", "seed-00", HELLO)
write("worker_messages", "seed-01", HELLO + frame(2, b"") + frame(3, field(1, ID))
      + frame(4, msg(field(1, ID), field(2, "line 1\n")))
      + frame(5, msg(field(1, ID), field(2, 2), field(3, "ok"), field(4, "out"),
                     field(5, 1_700_000_000_000), field(6, 1_700_000_001_500)))
      + frame(6, field(1, ID)))
write("worker_messages", "seed-02", HELLO + frame(5, msg(field(1, "old-run"), field(2, (1 << 64) - 1),
                                                       field(3, "boom"), field(5, 0), field(6, 0))))
