"""Byte builders for RDB images and DUMP payloads (CRC64 as Redis's, length encodings, the
legacy ziplist), shared by the DUMP/RESTORE, checker and fuzz tests."""
import struct


def _crc64_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc64_table()


def crc64(data):
    c = 0
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def seal(body, version=10):
    out = bytes(body) + struct.pack("<H", version)
    return out + struct.pack("<Q", crc64(out))


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(s):
    return rdb_len(len(s)) + s


def ziplist(items):
    """A ziplist of byte strings / ints (the encodings Redis 2.6-6.2 wrote)."""
    entries = []
    prev = 0
    for it in items:
        pl = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        if isinstance(it, int):
            if 0 <= it <= 12:
                enc = bytes([0xF1 + it])
            elif -128 <= it <= 127:
                enc = b"\xfe" + struct.pack("<b", it)
            elif -32768 <= it <= 32767:
                enc = b"\xc0" + struct.pack("<h", it)
            elif -(1 << 31) <= it < (1 << 31):
                enc = b"\xd0" + struct.pack("<i", it)
            else:
                enc = b"\xe0" + struct.pack("<q", it)
        else:
            n = len(it)
            if n < 64:
                enc = bytes([n]) + it
            elif n < 16384:
                enc = bytes([0x40 | (n >> 8), n & 0xFF]) + it
            else:
                enc = b"\x80" + struct.pack(">I", n) + it
        e = pl + enc
        entries.append(e)
        prev = len(e)
    body = b"".join(entries)
    tail = 10 + sum(len(e) for e in entries[:-1]) if entries else 10
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, len(items)) + body + b"\xff"
