#!/usr/bin/env python3
"""Hostile DNS clients against the cluster DNS (run inside a pod: minikube-net exec client -- ...)."""
import socket, struct, sys, time

SRV = sys.argv[1] if len(sys.argv) > 1 else "10.96.0.10"
MODE = sys.argv[2] if len(sys.argv) > 2 else "all"

def qname(name):
    out = b""
    for l in name.split("."):
        if l:
            b = l.encode()
            out += bytes([len(b)]) + b
    return out + b"\0"

def hdr(id=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", id, flags, qd, an, ns, ar)

def q(name, qtype=1, qclass=1, **kw):
    return hdr(**kw) + qname(name) + struct.pack(">HH", qtype, qclass)

def udp(pkt, timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(pkt, (SRV, 53))
    try:
        d, _ = s.recvfrom(65535)
        return d
    except socket.timeout:
        return None
    finally:
        s.close()

def rc(d):
    if d is None:
        return "no answer"
    f = struct.unpack(">H", d[2:4])[0]
    an = struct.unpack(">H", d[6:8])[0]
    return "rcode=%d tc=%d aa=%d an=%d len=%d" % (f & 0xF, (f >> 9) & 1, (f >> 10) & 1, an, len(d))

GOOD = "web.default.svc.cluster.local"
cases = [
    ("short 5 bytes", b"\x12\x34\x01\x00\x00"),
    ("header only qd=0", hdr(qd=0)),
    ("qd=0 with a question", hdr(qd=0) + qname(GOOD) + b"\0\1\0\1"),
    ("qd=2", hdr(qd=2) + (qname(GOOD) + b"\0\1\0\1") * 2),
    ("qd=65535 one question", hdr(qd=65535) + qname(GOOD) + b"\0\1\0\1"),
    ("compression loop", hdr() + b"\xc0\x0c" + b"\0\1\0\1"),
    ("pointer forward", hdr() + b"\xc0\x0e" + b"\0\1\0\1" + qname(GOOD)),
    ("label 64", hdr() + b"\x40" + b"a" * 64 + b"\0" + b"\0\1\0\1"),
    ("name > 255", hdr() + (b"\x3f" + b"a" * 63) * 5 + b"\0" + b"\0\1\0\1"),
    ("EDNS garbage option", q(GOOD, ar=1)[:-0] + b"\0\0\x29\x10\0\0\0\0\0\0\x08\xff\xff\x00\x50abc"),
    ("EDNS bad rdlen", q(GOOD, ar=1) + b"\0\0\x29\x10\0\0\0\0\0\xff\xff"),
    ("two OPT", q(GOOD, ar=2) + (b"\0\0\x29\x10\0\0\0\0\0\0\0") * 2),
    ("EDNS version 1", q(GOOD, ar=1) + b"\0\0\x29\x10\0\0\x01\0\0\0\0"),
    ("EDNS udp size 0", q(GOOD, ar=1) + b"\0\0\x29\x00\x00\0\0\0\0\0\0"),
    ("opcode 5 UPDATE", q(GOOD, flags=0x2800)),
    ("opcode 4 NOTIFY", q(GOOD, flags=0x2000)),
    ("opcode 15", q(GOOD, flags=0x7800)),
    ("QR=1", q(GOOD, flags=0x8100)),
    ("ANY", q(GOOD, qtype=255)),
    ("AXFR udp", q("cluster.local", qtype=252)),
    ("class CH", q("version.bind", qtype=16, qclass=3)),
    ("class ANY", q(GOOD, qclass=255)),
    ("odd case", q("WeB.DeFaUlT.SvC.ClUsTeR.LoCaL")),
    ("empty label ..", hdr() + b"\x03web\x00" + b"\x07default" + b"\0\0\1\0\1"),
    ("unicode label", hdr() + b"\x04w\xc3\xa9b\x07default\x03svc\x07cluster\x05local\0\0\1\0\1"),
    ("dot in label", hdr() + b"\x0bweb.default\x03svc\x07cluster\x05local\0\0\1\0\1"),
    ("root .", q(".")),
    ("pod name like IP", q("10-244-0-3.default.pod.cluster.local")),
    ("pod 999 octet", q("999-244-0-3.default.pod.cluster.local")),
    ("pod leading zero", q("010-244-0-3.default.pod.cluster.local")),
    ("PTR deep", q("1.2.3.4.5.in-addr.arpa", qtype=12)),
    ("PTR in-addr.arpa", q("in-addr.arpa", qtype=12)),
    ("PTR ip6", q("1.0.0.0.ip6.arpa", qtype=12)),
    ("SRV _", q("_._tcp.web.default.svc.cluster.local", qtype=33)),
    ("trailing garbage", q(GOOD) + b"\xff" * 100),
    ("an=1 garbage", q(GOOD, an=1)),
    ("huge 65000", q(GOOD) + b"\0" * 65000),
    ("outside domain", q("example.test")),
    ("world ptr", q("1.113.0.203.in-addr.arpa", qtype=12)),
]

def main_udp():
    for name, pkt in cases:
        print("%-24s %s" % (name, rc(udp(pkt))))
    print("after: %-17s %s" % ("good", rc(udp(q(GOOD)))))

def tcp_send(data, read=True, timeout=2.0):
    s = socket.create_connection((SRV, 53), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                d = s.recv(65535)
                if not d:
                    break
                out += d
                if len(out) >= 2 and len(out) >= 2 + struct.unpack(">H", out[:2])[0]:
                    break
        except socket.timeout:
            out += b"<timeout>"
    s.close()
    return out

def framed(p):
    return struct.pack(">H", len(p)) + p

def main_tcp():
    for name, data in [
        ("tcp good", framed(q(GOOD))),
        ("tcp AXFR", framed(q("cluster.local", qtype=252))),
        ("tcp IXFR", framed(q("cluster.local", qtype=251))),
        ("tcp ANY", framed(q(GOOD, qtype=255))),
        ("tcp len 0", b"\0\0"),
        ("tcp len lies short", struct.pack(">H", 10) + q(GOOD)),
    ]:
        out = tcp_send(data)
        print("%-24s %r" % (name, rc(out[2:]) if len(out) > 14 and out[-9:] != b"<timeout>" else out[:40]))
    # length says 100, 10 bytes sent, then wait: the server should close at its idle timeout
    s = socket.create_connection((SRV, 53), timeout=15)
    t0 = time.time()
    s.sendall(struct.pack(">H", 100) + b"x" * 10)
    try:
        d = s.recv(10)
        print("tcp partial: closed after %.1fs (%r)" % (time.time() - t0, d))
    except socket.timeout:
        print("tcp partial: still open after 15 s")
    s.close()
    # pipelined 50 queries
    data = b"".join(framed(q(GOOD, id=i)) for i in range(50))
    s = socket.create_connection((SRV, 53), timeout=3)
    s.sendall(data)
    got = b""
    try:
        while True:
            d = s.recv(65535)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    n = 0
    while len(got) >= 2:
        l = struct.unpack(">H", got[:2])[0]
        if len(got) < 2 + l:
            break
        got = got[2 + l:]
        n += 1
    print("tcp pipelined 50: %d answers" % n)
    s.close()

def main_cap():
    socks = []
    for i in range(200):
        try:
            s = socket.create_connection((SRV, 53), timeout=2)
            socks.append(s)
        except OSError as e:
            print("connect %d: %s" % (i, e))
            break
    print("held %d tcp connections" % len(socks))
    try:
        out = tcp_send(framed(q(GOOD)), timeout=2)
        print("tcp over cap:", rc(out[2:]) if len(out) > 14 else out)
    except OSError as e:
        print("tcp over cap: error", e)
    print("udp while tcp full:", rc(udp(q(GOOD))))
    for s in socks:
        s.close()
    time.sleep(0.5)
    out = tcp_send(framed(q(GOOD)))
    print("tcp after release:", rc(out[2:]) if len(out) > 14 else out)

def main_flood():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    t0 = time.time()
    sent = 0
    got = 0
    pkts = [q(GOOD, id=i) for i in range(256)] + [b"\xff" * 20, hdr(qd=0)]
    while sent < 10000 and time.time() - t0 < 20:
        try:
            s.sendto(pkts[sent % len(pkts)], (SRV, 53))
            sent += 1
        except BlockingIOError:
            pass
        try:
            while True:
                s.recvfrom(65535)
                got += 1
        except BlockingIOError:
            pass
    time.sleep(0.5)
    try:
        while True:
            s.recvfrom(65535)
            got += 1
    except BlockingIOError:
        pass
    print("flood: sent %d, answers %d in %.1fs" % (sent, got, time.time() - t0))
    print("after flood:", rc(udp(q(GOOD))))

{"udp": main_udp, "tcp": main_tcp, "cap": main_cap, "flood": main_flood}.get(MODE, lambda: [f() for f in (main_udp, main_tcp, main_cap, main_flood)])()
