#!/usr/bin/env python3
"""A small TURN client and UDP peer for the kernel-path suite (tests/integration/turn_kernel.sh).

  turnclient.py relay  --server IP:PORT --secret S --peer IP:PORT [--count N] [--size B]
                       [--channel 0x4000] [--pause S] [--burst] [--refused IP:PORT] [--keep S]
  turnclient.py cycles --server IP:PORT --secret S --peer IP:PORT --count N
  turnclient.py peer   --bind IP:PORT --duration S [--echo]

relay allocates, binds a channel to the peer (and, with --refused, asks for a channel to that
address too, which must be refused: nothing is ever sent there), sends ChannelData and counts
what comes back; it prints one JSON line. cycles allocates, binds, and deletes N times. peer
counts (and echoes) datagrams and prints {"received": N, "bad": N} when its time is up.
Every loop is bounded by a count or a deadline.
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
ALLOCATE, REFRESH, CHANNEL_BIND = 0x003, 0x004, 0x009
A_USERNAME, A_MI, A_ERROR, A_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000D
A_PEER, A_RELAYED, A_REALM, A_NONCE = 0x0012, 0x0016, 0x0014, 0x0015
A_TRANSPORT, A_CHANNEL, A_FINGERPRINT = 0x0019, 0x000C, 0x8028


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def big_buffers(sock):
    """Room for a whole test's datagrams (SO_RCVBUFFORCE as root, else what rmem_max allows)."""
    for opt in (33, socket.SO_RCVBUF):  # 33: SO_RCVBUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            return
        except OSError:
            continue


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def xor_addr(host, port):
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), ip)


def parse_attrs(msg):
    out, off = {}, 20
    while off + 4 <= len(msg):
        t, n = struct.unpack_from("!HH", msg, off)
        out.setdefault(t, msg[off + 4:off + 4 + n])
        off += 4 + n + ((4 - n % 4) % 4)
    return out


class Turn:
    def __init__(self, server, secret, user_id="kernel", sock=None):
        self.server = server
        self.user = f"{int(time.time()) + 3600}:{user_id}".encode()
        self.password = base64.b64encode(
            hmac.new(secret.encode(), self.user, hashlib.sha1).digest())
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        big_buffers(self.sock)
        self.sock.settimeout(2)
        self.realm = self.nonce = self.key = None

    def _message(self, method, attrs):
        txid = os.urandom(12)
        body = b"".join(attr(t, v) for t, v in attrs)
        if self.nonce:
            body += attr(A_USERNAME, self.user) + attr(A_REALM, self.realm) + \
                attr(A_NONCE, self.nonce)
            head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + txid
            body += attr(A_MI, hmac.new(self.key, head + body, hashlib.sha1).digest())
        head = struct.pack("!HHI", method, len(body) + 8, MAGIC) + txid
        crc = (binascii.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
        return head + body + attr(A_FINGERPRINT, struct.pack("!I", crc)), txid

    def request(self, method, attrs):
        """Sends a request (again after a 401 or 438 with the realm and nonce); returns
        (0 or the error code, attributes)."""
        for _ in range(3):
            msg, txid = self._message(method, attrs)
            self.sock.sendto(msg, self.server)
            deadline = time.time() + 2
            while time.time() < deadline:
                data, _ = self.sock.recvfrom(2048)
                if len(data) >= 20 and data[8:20] == txid:
                    break
            else:
                raise TimeoutError("no answer")
            a = parse_attrs(data)
            code = 0
            if struct.unpack_from("!H", data)[0] & 0x0110 == 0x0110:
                e = a.get(A_ERROR, b"\0\0\0\0")
                code = e[2] * 100 + e[3]
            if code in (401, 438) and A_NONCE in a:
                self.realm, self.nonce = a[A_REALM], a[A_NONCE]
                self.key = hashlib.md5(self.user + b":" + self.realm + b":" +
                                       self.password).digest()
                continue
            return code, a
        return code, a

    def allocate(self):
        code, a = self.request(ALLOCATE, [(A_TRANSPORT, b"\x11\0\0\0")])
        if code:
            raise RuntimeError(f"allocate: {code}")
        r = a[A_RELAYED]
        port = struct.unpack_from("!H", r, 2)[0] ^ (MAGIC >> 16)
        ip = struct.unpack_from("!I", r, 4)[0] ^ MAGIC
        return socket.inet_ntoa(struct.pack("!I", ip)), port

    def bind(self, channel, peer):
        return self.request(CHANNEL_BIND, [(A_CHANNEL, struct.pack("!HH", channel, 0)),
                                           (A_PEER, xor_addr(*peer))])[0]

    def delete(self):
        return self.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 0))])[0]


def collect(sock, channel, want, wait):
    """ChannelData on channel received within wait seconds of the last one (at most want)."""
    got, bad, deadline = 0, 0, time.time() + wait
    sock.settimeout(0.05)
    while got < want and time.time() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        if len(data) >= 4 and struct.unpack_from("!H", data)[0] == channel:
            n = struct.unpack_from("!H", data, 2)[0]
            good = n == len(data) - 4 and data[4:] == payload(n, data[4:8])
            got, bad = got + good, bad + (not good)
            deadline = time.time() + wait
    return got, bad


def payload(size, seq=b"\0\0\0\0"):
    """Every packet's bytes: a 4-byte sequence number, then a pattern the receiver checks."""
    return (seq + bytes((i * 7 + 3) & 0xFF for i in range(size)))[:size]


def send_batch(t, o, first):
    for i in range(first, first + o.count):
        data = payload(o.size, struct.pack("!I", i))
        t.sock.sendto(struct.pack("!HH", o.channel, len(data)) + data, t.server)
        if o.refused:  # the refused channel number: the relay must drop these
            t.sock.sendto(struct.pack("!HH", o.channel + 1, len(data)) + data, t.server)
        if not o.burst and i % 50 == 49:
            time.sleep(0.005)
    return o.count


def cmd_relay(o):
    t = Turn(addr(o.server), o.secret, "relay")
    relay = t.allocate()
    start = time.time()
    peer = addr(o.peer)
    out = {"relay": f"{relay[0]}:{relay[1]}", "bind": t.bind(o.channel, peer)}
    if o.refused:
        out["refused_bind"] = t.bind(o.channel + 1, addr(o.refused))
    if o.ready:
        open(o.ready, "w").close()
    time.sleep(o.pause)
    out["sent"] = send_batch(t, o, 0)
    out["echoed"], out["bad"] = collect(t.sock, o.channel, out["sent"], 1.0)
    if o.then:  # a second batch, this long after the allocation
        time.sleep(max(0, start + o.then - time.time()))
        send_batch(t, o, o.count)
        out["echoed_after"], _ = collect(t.sock, o.channel, o.count, 1.0)
        print(json.dumps(out), flush=True)
        return
    time.sleep(o.keep)
    out["deleted"] = t.delete()
    print(json.dumps(out), flush=True)


def cmd_cycles(o):
    peer, done, fails = addr(o.peer), 0, 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t = Turn(addr(o.server), o.secret, "cycles", sock)
    for _ in range(o.count):
        try:
            t.allocate()
            if t.bind(0x4000, peer) or t.delete():
                fails += 1
            done += 1
        except (OSError, RuntimeError, TimeoutError):
            fails += 1
    print(json.dumps({"cycles": done, "failed": fails}), flush=True)


def cmd_peer(o):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_buffers(sock)
    sock.bind(addr(o.bind))
    sock.settimeout(0.1)
    got, bad, end = 0, 0, time.time() + o.duration
    while time.time() < end:
        try:
            data, src = sock.recvfrom(4096)
        except socket.timeout:
            continue
        good = data == payload(len(data), data[:4])
        got, bad = got + good, bad + (not good)
        if o.echo:
            sock.sendto(data, src)
    print(json.dumps({"received": got, "bad": bad}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("relay")
    c = sub.add_parser("cycles")
    for p in (r, c):
        p.add_argument("--server", required=True)
        p.add_argument("--secret", required=True)
        p.add_argument("--peer", required=True)
        p.add_argument("--count", type=int, default=100)
    r.add_argument("--size", type=int, default=200)
    r.add_argument("--channel", type=lambda v: int(v, 0), default=0x4000)
    r.add_argument("--pause", type=float, default=0)
    r.add_argument("--keep", type=float, default=0)
    r.add_argument("--burst", action="store_true")
    r.add_argument("--refused")
    r.add_argument("--ready", help="a file to create once the channel is bound")
    r.add_argument("--then", type=float, default=0)
    p = sub.add_parser("peer")
    p.add_argument("--bind", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--echo", action="store_true")
    o = ap.parse_args()
    {"relay": cmd_relay, "cycles": cmd_cycles, "peer": cmd_peer}[o.cmd](o)


if __name__ == "__main__":
    sys.exit(main())
