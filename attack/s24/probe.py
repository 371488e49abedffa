# probe.py MODE HOST PORT [N]: tcp|udp one probe -> prints ok/denied; flood-syn/flood-udp N bounded.
import socket, sys, time, errno
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
if mode == "tcp":
    s = socket.socket(); s.settimeout(1)
    try:
        s.connect((host, port)); s.sendall(b"hi\n"); print("ok" if s.recv(10) else "eof")
    except OSError as e: print("denied", e)
elif mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    s.sendto(b"hi", (host, port))
    try: s.recvfrom(100); print("ok")
    except OSError as e: print("denied", e)
elif mode == "flood-syn":
    t0 = time.time(); socks = []
    for i in range(n):
        s = socket.socket(); s.setblocking(False)
        try: s.connect((host, port))
        except BlockingIOError: pass
        except OSError: pass
        socks.append(s)
        if len(socks) > 500:
            for x in socks: x.close()
            socks = []
        if time.time() - t0 > 20: break
    print("sent", i + 1, "in", round(time.time() - t0, 2), "s")
elif mode == "flood-udp":
    t0 = time.time()
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", (host, port)); s.close()
        if time.time() - t0 > 20: break
    print("sent", i + 1, "in", round(time.time() - t0, 2), "s")
elif mode == "hold":
    s = socket.socket(); s.settimeout(2); s.connect((host, port))
    print("connected", flush=True)
    for i in range(n):
        try:
            s.sendall(b"ping%d\n" % i); d = s.recv(100); print(i, "ok" if d else "eof", flush=True)
        except OSError as e: print(i, "err", e, flush=True)
        time.sleep(1)
