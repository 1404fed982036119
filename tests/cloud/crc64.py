"""CRC-64/ECMA-182 as OSS reports it in x-oss-hash-crc64ecma (the reflected "CRC-64/XZ" variant).

Polynomial 0x42F0E1EBA9EA3693 (reflected 0xC96C5795D7870F42), initial value and final XOR all ones.
crc64(b"123456789") == 0x995DC9BBDF1939FA. Pass a previous result as `crc` to continue a running checksum.
"""

_MASK = 0xFFFFFFFFFFFFFFFF
_POLY_REFLECTED = 0xC96C5795D7870F42


def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY_REFLECTED if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc64(data: bytes, crc: int = 0) -> int:
    crc ^= _MASK
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK
