#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_turn.c: records of (opcode, 16-bit length, bytes)."""
import os
import struct
import sys

COOKIE = 0x2112A442


def stun(method_cls, attrs, txid=b"fuzzseed0001"):
    body = b""
    for t, v in attrs:
        body += struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    return struct.pack("!HHI", method_cls, len(body), COOKIE) + txid + body


def xor_addr(ip, port, txid=b"fuzzseed0001"):
    a = bytes(int(x) for x in ip.split("."))
    xport = port ^ (COOKIE >> 16)
    xip = bytes(b ^ c for b, c in zip(a, struct.pack("!I", COOKIE)))
    return struct.pack("!BBH", 0, 1, xport) + xip


def rec(op, data):
    return struct.pack("!BH", op, len(data)) + data


PEER = xor_addr("93.184.216.34", 6000)
UDP = (0x0019, b"\x11\0\0\0")
EVEN_R = (0x0018, b"\x80")
# Eight zero bytes: the harness puts the last token the server answered in their place.
LAST_TOKEN = (0x0022, b"\0" * 8)
DONT_FRAGMENT = (0x001A, b"")


def client(port):
    """Moves the harness to client port `port` (the record's length) with a fresh nonce."""
    return rec(4, b"\0" * port)


seeds = {
    "permission": rec(1, stun(0x0008, [(0x0012, PEER)])),
    "channel": rec(1, stun(0x0009, [(0x000C, b"\x40\x00\0\0"), (0x0012, PEER)]))
    + rec(0, b"\x40\x00\x00\x05hello")
    + rec(2, b"\x01peer-data"),
    "send": rec(1, stun(0x0008, [(0x0012, PEER)]))
    + rec(0, stun(0x0016, [(0x0012, PEER), (0x0013, b"payload")]))
    + rec(2, b"\x01reply"),
    "refresh": rec(1, stun(0x0004, [(0x000D, b"\0\0\x04\xb0")])) + rec(3, b"\0" * 2)
    + rec(1, stun(0x0004, [(0x000D, b"\0\0\0\0")])),
    "binding": rec(0, stun(0x0001, [])),
    "allocate_v6": rec(4, b"") + rec(1, stun(0x0003, [(0x0019, b"\x11\0\0\0"), (0x0017, b"\x02\0\0\0")])),
    "expire": rec(1, stun(0x0008, [(0x0012, PEER)])) + rec(3, b"\0" * 400) + rec(2, b"\x01late"),
    "stream": rec(6, b"\x40\x00\x00\x05") + rec(5, b""),
    # EVEN-PORT R=1, then another client redeems the token and relays through the held port.
    "reserve_redeem": client(11) + rec(1, stun(0x0003, [UDP, EVEN_R]))
    + client(12) + rec(1, stun(0x0003, [UDP, LAST_TOKEN]))
    + rec(1, stun(0x0008, [(0x0012, PEER)]))
    + rec(0, stun(0x0016, [(0x0012, PEER), (0x0013, b"rtcp")]))
    + client(13) + rec(1, stun(0x0003, [UDP, LAST_TOKEN])),
    # The held port expires (30 s) before its token comes.
    "reserve_expire": client(21) + rec(1, stun(0x0003, [UDP, EVEN_R, DONT_FRAGMENT]))
    + rec(3, b"\0" * 31) + client(22) + rec(1, stun(0x0003, [UDP, LAST_TOKEN])),
    # A token with EVEN-PORT, with a family, too short, and an unknown one.
    "reserve_bad": client(31) + rec(1, stun(0x0003, [UDP, EVEN_R]))
    + client(32) + rec(1, stun(0x0003, [UDP, LAST_TOKEN, (0x0018, b"\0")]))
    + rec(1, stun(0x0003, [UDP, LAST_TOKEN, (0x0017, b"\x01\0\0\0")]))
    + rec(1, stun(0x0003, [UDP, (0x0022, b"\1\2\3\4")]))
    + rec(1, stun(0x0003, [UDP, (0x0022, b"\1\2\3\4\5\6\7\x08")])),
    # DONT-FRAGMENT on an Allocate and on a Send indication.
    "dont_fragment": client(41) + rec(1, stun(0x0003, [UDP, DONT_FRAGMENT]))
    + rec(1, stun(0x0008, [(0x0012, PEER)]))
    + rec(0, stun(0x0016, [(0x0012, PEER), DONT_FRAGMENT, (0x0013, b"df")])),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "turn")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as fh:
        fh.write(data)
