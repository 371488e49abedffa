# holder.py: opens TCP connections in many states from the calling netns, prints them, then sleeps.
import socket, sys, time, os
targets = [t.split(":") for t in sys.argv[1:]]
socks = []
for kind, host, port in targets:
    try:
        s = socket.socket()
        s.settimeout(2)
        if kind == "synsent":
            s.setblocking(False)
            try: s.connect((host, int(port)))
            except BlockingIOError: pass
            socks.append(s); print("ok", kind, host, port, flush=True); continue
        s.connect((host, int(port)))
        if kind == "idle":
            pass
        elif kind == "http":
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
        elif kind == "shutwr":
            s.shutdown(socket.SHUT_WR)
        elif kind == "bulk":
            s.setblocking(False)
            try:
                for _ in range(400): s.send(b"x" * 65536)
            except BlockingIOError: pass
        socks.append(s); print("ok", kind, host, port, flush=True)
    except OSError as e:
        print("err", kind, host, port, e, flush=True)
time.sleep(3600)
