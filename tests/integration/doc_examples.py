"""The socket examples of docs/PROTOCOL.md against a real agent.

usage: doc_examples.py SOCKET DOC

Every "C: LINE" in DOC's code blocks is sent on a connection of its own and
the answer is compared with the "S: LINE" that follows it: the same "ok",
"id" and "error", the same "message" for an error, and the same shape
(members and their kinds; values such as tokens and counts may differ).
Prints one ok / not ok line per example, as lib.sh does.
"""
import json
import socket
import sys


def shape(value):
    if isinstance(value, dict):
        return {key: shape(member) for key, member in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "bool"
    return type(value).__name__


def ask(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf.partition(b"\n")[0].decode()


def examples(doc):
    pending = None
    for line in open(doc, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("C: "):
            pending = line[3:]
        elif line.startswith("S: ") and pending is not None:
            yield pending, line[3:]
            pending = None


def main():
    path, doc = sys.argv[1], sys.argv[2]
    failed = count = 0
    for request, documented in examples(doc):
        count += 1
        expected = json.loads(documented)
        got_text = ask(path, request)
        try:
            got = json.loads(got_text)
        except ValueError:
            got = {}
        same = all(got.get(k) == expected.get(k) for k in ("ok", "id", "error"))
        if "error" in expected:
            same = same and got.get("message") == expected.get("message")
        same = same and shape(got) == shape(expected)
        name = "PROTOCOL.md example " + request[:60]
        if same:
            print("ok - " + name)
        else:
            failed += 1
            print("not ok - %s: documented %s, the agent answered %s" % (name, documented, got_text),
                  file=sys.stderr)
    if count == 0:
        print("not ok - PROTOCOL.md has examples", file=sys.stderr)
        failed += 1
    print("%d examples, %d failed" % (count, failed))
    sys.exit(1 if failed else 0)


main()
