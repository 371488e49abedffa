#!/usr/bin/env python3
"""Datagrams the Geneve overlay must refuse, for examples/geneve/e2e_test.sh (the attack of issue 15).

  forge.py spoof   OUTER_SRC OUTER_DST         one Geneve datagram through a raw socket (IP_HDRINCL) with a
                                               forged outer source, as a pod could try it
  forge.py foreign SRC DST INNER_SRC INNER_DST an inner UDP frame for DST's gnv0 whose source is INNER_SRC
  forge.py big     SRC DST INNER_SRC INNER_DST the same with 8000 bytes of payload (gnv0's MTU is 1442)
  forge.py badcsum SRC DST INNER_SRC INNER_DST N
                                               N consecutive TCP segments (ACK, 100 bytes each) of one flow
                                               to port 9999 with a wrong TCP checksum, 64 a UDP GSO send

SRC/DST are node underlay addresses; the datagrams are sent from SRC's UDP socket to DST:6081, with the
destination node's gnv0 MAC (0e:58 + its .0 address) derived from INNER_DST. Standard library only."""
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(u))
    return u[:6] + struct.pack("!H", csum(pseudo + u) or 0xFFFF) + u[8:]


def gnv0_mac(inner_dst):  # the destination node's gnv0: 0e:58 + the .0 address of its /24
    a = socket.inet_aton(inner_dst)
    return b"\x0e\x58" + a[:3] + b"\x00"


def frame(inner_src, inner_dst, l3):
    return gnv0_mac(inner_dst) + bytes.fromhex("0e580af4ff00") + b"\x08\x00" + l3


GENEVE = struct.pack("!BBHI", 0, 0, 0x6558, 7 << 8)  # no option (accepted on the address), VNI 7


def main():
    what, src, dst = sys.argv[1:4]
    if what == "spoof":
        inner = frame("10.244.0.2", "10.244.1.2", ipv4("10.244.0.2", "10.244.1.2", 17,
                                                      udp("10.244.0.2", "10.244.1.2", 40000, 7, b"x")))
        pkt = ipv4(src, dst, 17, udp(src, dst, 6081, 6081, GENEVE + inner))
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.sendto(pkt, (dst, 0))
        return
    isrc, idst = sys.argv[4:6]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    if what in ("foreign", "big"):
        payload = b"x" * (8000 if what == "big" else 32)
        s.sendto(GENEVE + frame(isrc, idst, ipv4(isrc, idst, 17, udp(isrc, idst, 40000, 7, payload))),
                 (dst, 6081))
    elif what == "badcsum":
        dgrams = []
        for i in range(int(sys.argv[6])):
            tcp = struct.pack("!HHIIBBHHH", 5555, 9999, 100000 + 100 * i, 1000, 5 << 4, 0x10, 65535,
                              0xDEAD, 0) + b"C" * 100
            dgrams.append(GENEVE + frame(isrc, idst, ipv4(isrc, idst, 6, tcp)))
        # 64 datagrams a send, as one UDP GSO buffer (UDP_SEGMENT): the receiving pump (UDP_GRO) gets
        # each run whole in one message, as it gets the pump's own sends, so its join sees them all
        # together whatever the timing.
        s.setsockopt(socket.IPPROTO_UDP, 103, len(dgrams[0]))  # UDP_SEGMENT
        for i in range(0, len(dgrams), 64):
            s.sendto(b"".join(dgrams[i:i + 64]), (dst, 6081))
    else:
        sys.exit("unknown: " + what)


if __name__ == "__main__":
    main()
