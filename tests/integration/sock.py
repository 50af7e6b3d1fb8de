"""A raw client for the agent's socket, for tests that need more than the
CLI: misbehaving clients, many connections at once, other uids.

usage: sock.py SOCKET lines LINE...        send each line on one connection, print each answer
       sock.py SOCKET raw TEXT             send TEXT as is (may lack '\n'), print answers until close
       sock.py SOCKET parallel N LINE      N connections at once, one LINE each; print the answers
       sock.py SOCKET idle SECONDS         connect, send nothing; print "closed after Xs" or "open"
       sock.py SOCKET flood N              hold N connections, ping on each; print a count per answer kind
       sock.py SOCKET partial TEXT         send TEXT (no '\n') and hold the connection until stdin closes;
                                           print "sent" once sent, then what arrived ("<nothing>" or lines)
       sock.py SOCKET pipeline N           send N pings with ids 0..N-1 in one stream while reading;
                                           print {"answers", "in_order", "ended"} as JSON
       sock.py SOCKET unread N             send N pings and never read; print "sent K" when the agent
                                           stops taking them, then hold until stdin closes
"""
import json
import select
import socket
import sys
import threading
import time


def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_line(s, buf):
    while b"\n" not in buf[0]:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf[0] += chunk
    line, _, rest = buf[0].partition(b"\n")
    buf[0] = rest
    return line.decode()


def main():
    path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "lines":
        s = connect(path)
        buf = [b""]
        for line in args:
            s.sendall(line.encode() + b"\n")
            answer = read_line(s, buf)
            print(answer if answer is not None else "<closed>")
    elif mode == "raw":
        s = connect(path)
        s.sendall(args[0].encode())
        buf = [b""]
        while True:
            try:
                answer = read_line(s, buf)
            except (ConnectionResetError, BrokenPipeError):
                answer = None
            if answer is None:
                print("<closed>")
                break
            print(answer)
    elif mode == "parallel":
        n, line = int(args[0]), args[1]
        answers = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            s = connect(path, 60)
            barrier.wait()
            s.sendall(line.encode() + b"\n")
            answers[i] = read_line(s, [b""])
            s.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a in answers:
            print(a)
    elif mode == "idle":
        s = connect(path, float(args[0]) + 15)
        start = time.time()
        try:
            data = s.recv(1)
        except socket.timeout:
            print("open")
            return
        except ConnectionResetError:
            data = b""
        print("closed after %ds" % round(time.time() - start) if not data else "data")
    elif mode == "flood":
        n = int(args[0])
        conns = []
        for _ in range(n):
            try:
                conns.append(connect(path, 10))
            except OSError as e:
                print("connect failed: %s" % e)
        counts = {}
        for s in conns:
            try:
                s.sendall(b'{"op":"ping"}\n')
                answer = read_line(s, [b""])
            except OSError:
                answer = None
            key = "closed" if answer is None else (json.loads(answer).get("error") or "ok")
            counts[key] = counts.get(key, 0) + 1
        print(json.dumps(counts, sort_keys=True))
        for s in conns:
            s.close()
    elif mode == "partial":
        partial(path, args[0])
    elif mode == "pipeline":
        pipeline(path, int(args[0]))
    elif mode == "unread":
        unread(path, int(args[0]))


def partial(path, text):
    s = connect(path, 60)
    s.sendall(text.encode())
    print("sent", flush=True)
    sys.stdin.read()   # held until the test closes our stdin
    s.settimeout(0.2)
    try:
        data = s.recv(65536)
    except (socket.timeout, ConnectionResetError):
        data = b""
    print(data.decode().rstrip("\n") if data else "<nothing>")


def pipeline(path, n):
    s = connect(path, 30)
    answers = []
    ended = ["complete"]

    def reader():
        buf = [b""]
        while len(answers) < n:
            try:
                line = read_line(s, buf)
            except (OSError, socket.timeout) as e:
                ended[0] = "error: %s" % e
                return
            if line is None:
                ended[0] = "closed"
                return
            answers.append(json.loads(line).get("id"))

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(b"".join(b'{"op":"ping","id":%d}\n' % i for i in range(n)))
    except OSError as e:
        ended[0] = "send failed: %s" % e
    t.join()
    print(json.dumps({"answers": len(answers), "in_order": answers == list(range(len(answers))),
                      "ended": ended[0]}))


def unread(path, n):
    s = connect(path, 30)
    s.setblocking(False)
    data = b"".join(b'{"op":"ping","id":%d}\n' % i for i in range(n))
    sent = 0
    while sent < len(data):
        # Not writable for 1 s: the agent stopped taking what we send.
        _, writable, _ = select.select([], [s], [], 1.0)
        if not writable:
            break
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            pass
    print("sent %d" % sent, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
