#!/usr/bin/env python3
# attack17/http.py PORT OWNER_PID — hostile clients against the dashboard; prints one line per probe.
import socket, sys, time, os, threading
PORT = int(sys.argv[1]); OWNER = int(sys.argv[2])
H = f"127.0.0.1:{PORT}"
def rss():
    for l in open(f"/proc/{OWNER}/status"):
        if l.startswith("VmRSS"): return l.split()[1] + "kB"
def fds():
    return len(os.listdir(f"/proc/{OWNER}/fd"))
def raw(data, timeout=5, read=True, shut=False):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        s.sendall(data)
        if shut: s.shutdown(socket.SHUT_WR)
        if not read: return s
        out = b""
        t0 = time.time()
        while time.time() - t0 < timeout:
            try: c = s.recv(65536)
            except socket.timeout: break
            except ConnectionResetError: out += b"<RST>"; break
            if not c: break
            out += c
        return out
    finally:
        if read: s.close()
def status_lines(out):
    return [l.decode(errors="replace") for l in out.split(b"\r\n") if l.startswith(b"HTTP/")]
def probe(name, data, **kw):
    try:
        out = raw(data, **kw)
        print(f"{name}: {status_lines(out)} len={len(out)}", flush=True)
        return out
    except Exception as e:
        print(f"{name}: EXC {e!r}", flush=True)
print("start rss", rss(), "fds", fds())
G = lambda path, extra="": f"GET {path} HTTP/1.1\r\nHost: {H}\r\n{extra}\r\n".encode()
probe("plain /api/state", G("/api/state") .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
probe("CL+TE", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(), timeout=3)
probe("dup CL", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nsrc=x".encode(), timeout=3)
probe("same dup CL", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc".encode(), timeout=3)
probe("bare LF", f"GET /api/state HTTP/1.1\nHost: {H}\nConnection: close\n\n".encode(), timeout=3)
probe("HTTP/1.0 no host", b"GET /api/state HTTP/1.0\r\n\r\n", timeout=3)
probe("HTTP/1.0 host", f"GET / HTTP/1.0\r\nHost: {H}\r\n\r\n".encode(), timeout=3)
probe("HTTP/0.9", b"GET /\r\n", timeout=3)
probe("HTTP/2.0", f"GET / HTTP/2.0\r\nHost: {H}\r\n\r\n".encode(), timeout=3)
probe("pipelined x3", (G("/app.js") + G("/style.css") + G("/", "Connection: close\r\n")), timeout=3)
probe("absolute-form good", f"GET http://{H}/api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
probe("absolute-form evil host in URI", f"GET http://evil.example:{PORT}/api/state HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
probe("absolute-form good URI evil Host", f"GET http://{H}/api/state HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".encode(), timeout=3)
for p in ["/../api/state", "/%2e%2e/api/state", "//api/state", "/api/./state", "/api/state/", "/API/STATE", "/api%2fstate", "/api/state?x=1", "/api/state#f", "*", "/api/state%00", "/\x00"]:
    probe(f"path {p!r}", f"GET {p} HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
for host in ["evil.example", f"localhost:{PORT}", f"LOCALHOST:{PORT}", f"127.0.0.1:{PORT}.evil", f"127.0.0.1", f"[::1]:{PORT}", f"127.0.0.1:0{PORT}", f"localhost.:{PORT}", "", f"127.0.0.1:{PORT} "]:
    probe(f"host {host!r}", f"GET /api/state HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
probe("two hosts", f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nHost: evil\r\nConnection: close\r\n\r\n".encode(), timeout=3)
for origin in ["null", "http://evil.example", f"http://{H}", f"https://{H}", f"http://{H}/", f"http://{H}.evil.example", f"HTTP://{H}"]:
    body = b"src=client&dst=web-0"
    probe(f"origin {origin!r} POST", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nOrigin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body, timeout=20)
probe("huge header", f"GET / HTTP/1.1\r\nHost: {H}\r\nX: {'a'*100000}\r\n\r\n".encode(), timeout=3)
probe("many headers", (f"GET / HTTP/1.1\r\nHost: {H}\r\n" + "X: y\r\n"*5000 + "\r\n").encode(), timeout=3)
probe("huge body CL", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: 100000000\r\n\r\n".encode() + b"a"*100000, timeout=3)
probe("huge chunked", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + (b"1000\r\n" + b"a"*4096 + b"\r\n")*10, timeout=3)
probe("chunk ext huge", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n1;{'x'*20000}\r\na\r\n0\r\n\r\n".encode(), timeout=3)
probe("chunk size overflow", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\na\r\n0\r\n\r\n".encode(), timeout=3)
probe("TE gzip", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".encode(), timeout=3)
probe("negative CL", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Length: -1\r\n\r\n".encode(), timeout=3)
probe("GET with body", f"GET /api/state HTTP/1.1\r\nHost: {H}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd".encode(), timeout=12)
probe("HEAD events", f"HEAD /api/events HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n".encode(), timeout=3)
probe("OPTIONS", f"OPTIONS * HTTP/1.1\r\nHost: {H}\r\n\r\n".encode(), timeout=3)
probe("CONNECT", f"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n".encode(), timeout=3)
probe("Expect 100", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n".encode(), timeout=3)
def post(body, timeout=30, ctype="application/x-www-form-urlencoded"):
    if isinstance(body, str): body = body.encode()
    return probe(f"trace {body[:60]!r}", f"POST /api/trace HTTP/1.1\r\nHost: {H}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body, timeout=timeout)
for b in ["", "{}", '{"src":"client","dst":"web-0"}', "src=&dst=", "src=client", "dst=web-0", "src=client&dst=nope", "src=nope&dst=web-0",
          "src=client&dst=svc/", "src=client&dst=svc/web:0", "src=client&dst=svc/web:65536", "src=client&dst=svc/web:-1", "src=client&dst=web-0:99999999999999999999",
          "src=client&dst=" + "a"*256, "src=client&dst=" + "a"*257, "src=%ff%fe&dst=%e2%98%83", "src=client&dst=web-0%00x", "src=client&dst=web-0&proto=sctp",
          "src=node1&dst=node2", "src=underlay&dst=web-0", "src=host&dst=web-0", "src=client&dst=http://127.0.0.1:1/", "src=client&dst=10.96.0.10:80&proto=udp", "src=client&dst=127.0.0.1",
          "src=client&dst=%0a%0devent: x", "src=client&src=x&dst=y", "src=%zz&dst=x", "src=client&dst=web-0&proto=icmp"]:
    post(b)
print("after traces rss", rss(), "fds", fds())
