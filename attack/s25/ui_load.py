#!/usr/bin/env python3
# attack/s25/ui_load.py PORT OWNER_PID: many SSE clients (some never read), idle connections to the
# limit, then whether the page, /api/state and a trace still answer; bounded (< 30 s, < 200 sockets).
import socket, sys, time, os
PORT = int(sys.argv[1]); OWNER = int(sys.argv[2]); H = f"127.0.0.1:{PORT}"
def rss():
    for l in open(f"/proc/{OWNER}/status"):
        if l.startswith("VmRSS"): return l.split()[1] + " kB"
def fds(): return len(os.listdir(f"/proc/{OWNER}/fd"))
def conn(): return socket.create_connection(("127.0.0.1", PORT), timeout=3)
def req(data, timeout=10):
    s = conn(); s.settimeout(timeout); s.sendall(data); out = b""
    t0 = time.time()
    try:
        while time.time() - t0 < timeout:
            c = s.recv(65536)
            if not c: break
            out += c
    except Exception as e: out += f"<{e!r}>".encode()
    s.close(); return out
def status(out): return out.split(b"\r\n", 1)[0].decode(errors="replace")
print("start", rss(), "fds", fds())
sse = []
for i in range(20):
    s = conn(); s.sendall(f"GET /api/events HTTP/1.1\r\nHost: {H}\r\n\r\n".encode()); sse.append(s)
time.sleep(1)
codes = []
for s in sse:
    s.settimeout(1)
    try: codes.append(s.recv(200).split(b"\r\n", 1)[0].decode())
    except Exception as e: codes.append(repr(e))
print("20 SSE clients:", {c: codes.count(c) for c in set(codes)})
idle = []
for i in range(70):
    try: idle.append(conn())
    except Exception as e: print("connect", i, e); break
time.sleep(0.5)
t0 = time.time()
out = req(f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=5)
print(f"/api/state with 8 SSE + 70 idle: {status(out) or out[:80]!r} in {time.time()-t0:.2f}s")
for s in idle: s.close()
time.sleep(0.3)
t0 = time.time()
out = req(f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=5)
print(f"/api/state after the idle ones closed: {status(out)} in {time.time()-t0:.2f}s")
body = b"src=client&dst=node1%3A30080"
out = req(f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body, timeout=20)
print("POST trace client -> node1:30080:", status(out), b'"ok": true' in out or b'"ok":true' in out)
print("during: ", rss(), "fds", fds())
# the SSE clients that never read: snapshots keep changing (traffic); the server must drop them
for i in range(3):
    req(f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
for s in sse: s.close()
time.sleep(0.5)
out = req(f"GET /api/events HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=1.5)
print("a new SSE client after the 20 closed:", status(out))
print("end", rss(), "fds", fds())
