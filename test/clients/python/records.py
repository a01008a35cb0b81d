"""Record files of the client compatibility suite (see test/clients/common.ts).

One record per line: offset TAB key TAB value TAB timestamp TAB headers; key and value
base64 or "-" for null; headers "b64key:b64value" joined by ",".
"""
import base64
import json
import sys


def _field(s):
    return None if s == "-" else base64.b64decode(s)


def _b64(b):
    return "-" if b is None else base64.b64encode(b).decode("ascii")


def read_records(path):
    out = []
    with open(path, "r", encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            _, key, value, ts, hs = line.split("\t")
            headers = []
            if hs:
                for h in hs.split(","):
                    k, v = h.split(":")
                    headers.append((base64.b64decode(k).decode("utf-8"), _field(v)))
            out.append((_field(key), _field(value), int(ts), headers))
    return out


class RecordWriter:
    def __init__(self, path):
        self._f = open(path, "w", encoding="ascii")

    def write(self, offset, key, value, ts, headers):
        hs = ",".join(
            base64.b64encode(k.encode("utf-8")).decode("ascii") + ":" + _b64(v) for k, v in (headers or [])
        )
        self._f.write(f"{offset}\t{_b64(key)}\t{_b64(value)}\t{ts}\t{hs}\n")

    def close(self):
        self._f.close()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
