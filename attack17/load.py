#!/usr/bin/env python3
# attack17/load.py PORT OWNER_PID — slowloris, connection floods, SSE clients that never read, POST floods.
import socket, sys, time, os, threading
PORT = int(sys.argv[1]); OWNER = int(sys.argv[2]); H = f"127.0.0.1:{PORT}"
def rss():
    for l in open(f"/proc/{OWNER}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
def fds(): return len(os.listdir(f"/proc/{OWNER}/fd"))
def get_state(timeout=5):
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
        s.sendall(f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while True:
            c = s.recv(65536)
            if not c: break
            out += c
        s.close()
        return out.split(b"\r\n")[0].decode(), round(time.time() - t0, 2)
    except Exception as e:
        return f"EXC {e!r}", round(time.time() - t0, 2)
print("base rss", rss(), "fds", fds(), "state", get_state(), flush=True)
# 1. Slowloris: 200 connections, each sends a byte every 2 s.
socks = []
for i in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=2); s.sendall(b"GET / HTTP/1.1\r\n"); socks.append(s)
    except Exception as e: print("connect", i, e); break
print("slowloris open", len(socks), "fds", fds(), "state while full", get_state(), flush=True)
t0 = time.time(); alive = len(socks)
while time.time() - t0 < 13:
    alive = 0
    for s in socks:
        try: s.sendall(b"X"); alive += 1
        except Exception: pass
    time.sleep(2)
print("slowloris after 13s alive(send ok)", alive, "state", get_state(), "fds", fds(), flush=True)
for s in socks: s.close()
time.sleep(0.5)
# 2. SSE clients that never read: 8 allowed, plus more.
sse = []
for i in range(12):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET /api/events HTTP/1.1\r\nHost: {H}\r\n\r\n".encode()); sse.append(s)
time.sleep(1)
print("sse 12 opened rss", rss(), "fds", fds(), flush=True)
# make snapshots change: run traces (each adds to recent traces)
for i in range(6):
    b = b"src=client&dst=web-0"
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        s.sendall(f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: {len(b)}\r\nConnection: close\r\n\r\n".encode() + b)
        r = s.recv(200).split(b"\r\n")[0]; s.close()
    except Exception as e: r = repr(e)
    print("trace", i, r, "rss", rss(), flush=True)
time.sleep(6)
print("sse after 6s rss", rss(), "fds", fds(), "state", get_state(), flush=True)
for s in sse: s.close()
# 3. POST flood from 16 threads, 15 s, 5k requests max.
cnt = {}; lock = threading.Lock(); stop = time.time() + 15; total = [0]
def flood():
    while time.time() < stop:
        with lock:
            if total[0] >= 5000: return
            total[0] += 1
        b = b"src=client&dst=web-1"
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
            s.sendall(f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: {len(b)}\r\nConnection: close\r\n\r\n".encode() + b)
            r = s.recv(100).split(b"\r\n")[0].decode(); s.close()
        except Exception as e: r = type(e).__name__
        with lock: cnt[r] = cnt.get(r, 0) + 1
ts = [threading.Thread(target=flood) for _ in range(16)]
[t.start() for t in ts]; [t.join() for t in ts]
print("post flood", cnt, "rss", rss(), "fds", fds(), "state", get_state(), flush=True)
# 4. Connection flood: 2000 connects, close
ok = 0
for i in range(2000):
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=2); s.close(); ok += 1
    except Exception: pass
time.sleep(1)
print("connect flood", ok, "rss", rss(), "fds", fds(), "state", get_state(), flush=True)
