"""Protobuf's wire format, the little of it the emulator needs, written by hand so that the emulator stays standard
library only and checks what the SDKs encode independently of their generated classes.

encode_message() writes proto3 scalars (strings, bytes, ints, bools) and nested messages passed as bytes;
decode_message() reads any message into field number -> values (varints as int, everything else as bytes),
which is enough for the DKMS gateway's messages and Log Service's LogGroup.
"""

from typing import Dict, Iterable, List, Tuple, Union


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_message(fields: Iterable[Tuple[int, Union[str, bytes, int, bool]]]) -> bytes:
    """proto3: strings/bytes length-delimited, ints/bools varint; empty and zero values left out."""
    out = bytearray()
    for number, value in fields:
        if value in ("", b"", 0, False, None):
            continue
        if isinstance(value, (bool, int)):
            out += _varint(number << 3) + _varint(int(value))
        else:
            data = value.encode("utf-8") if isinstance(value, str) else value
            out += _varint(number << 3 | 2) + _varint(len(data)) + data
    return bytes(out)


def decode_message(data: bytes) -> Dict[int, List[Union[int, bytes]]]:
    """field number -> values (varints as int, length-delimited as bytes); ValueError when malformed."""
    fields: Dict[int, List[Union[int, bytes]]] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            if pos >= len(data) or shift > 63:
                raise ValueError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value: Union[int, bytes] = varint()
        elif wire == 2:
            length = varint()
            if pos + length > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if number == 0:
            raise ValueError("field number 0")
        fields.setdefault(number, []).append(value)
    return fields
