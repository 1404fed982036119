"""Log Service request bodies: the protobuf LogGroup of PutLogs (plain, LZ4 or deflate) and the LogGroupList that
PullLogs answers with. Written from the SDK's .proto (aliyun-log-python-sdk, log_logs_raw.proto) without its classes:

    LogGroup { repeated Log Logs = 1; string Reserved = 2; string Topic = 3; string Source = 4;
               string MachineUUID = 5; repeated LogTag LogTags = 6 }
    Log      { uint32 Time = 1; repeated Content Contents = 2 {string Key = 1; bytes Value = 2}; fixed32 Time_ns = 4 }
    LogTag   { string Key = 1; string Value = 2 }
    LogGroupList { repeated LogGroup LogGroups = 1 }

`x-log-compresstype: lz4` is an LZ4 *block* without a size prefix (the size is `x-log-bodyrawsize`), decoded here by
hand so the emulator stays standard library only; `deflate` is zlib's format.
"""

import struct
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from .protobuf_wire import _varint, decode_message


class BodyError(ValueError):
    """(status, code, message) of the Log Service error a body earns."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class LogRecord:
    """One decoded log: its time and its (key, value) pairs in order, plus the group's topic, source and tags."""

    time: int
    contents: Tuple[Tuple[str, str], ...]
    topic: str = ""
    source: str = ""
    tags: Tuple[Tuple[str, str], ...] = field(default=())

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.contents if k == key), default)

    def as_dict(self) -> Dict[str, str]:
        return dict(self.contents)


def lz4_block_decompress(src: bytes, size: int) -> bytes:
    """An LZ4 block (sequences of literals and back-references) to exactly `size` bytes; ValueError if malformed."""
    out = bytearray()
    pos, end = 0, len(src)

    def length(base: int) -> int:
        nonlocal pos
        if base == 15:
            while True:
                if pos >= end:
                    raise ValueError("truncated length")
                byte = src[pos]
                pos += 1
                base += byte
                if byte != 255:
                    break
        return base

    while pos < end:
        token = src[pos]
        pos += 1
        literals = length(token >> 4)
        if pos + literals > end:
            raise ValueError("truncated literals")
        out += src[pos : pos + literals]
        pos += literals
        if pos >= end:
            break  # the last sequence has literals only
        if pos + 2 > end:
            raise ValueError("truncated offset")
        offset = src[pos] | src[pos + 1] << 8
        pos += 2
        match = length(token & 15) + 4
        start = len(out) - offset
        if offset == 0 or start < 0:
            raise ValueError("bad offset")
        if offset >= match:
            out += out[start : start + match]
        else:  # an overlapping copy repeats the last `offset` bytes
            for i in range(match):
                out.append(out[start + i])
        if len(out) > size:
            raise ValueError("longer than x-log-bodyrawsize")
    if len(out) != size:
        raise ValueError("decompressed to %d bytes, x-log-bodyrawsize says %d" % (len(out), size))
    return bytes(out)


def decompress(body: bytes, compress_type: str, raw_size: str) -> bytes:
    """The raw protobuf of a PutLogs body, as the service checks it."""
    compress_type = compress_type.lower()
    if compress_type not in ("", "lz4", "deflate"):
        raise BodyError(400, "InvalidCompressType", "x-log-compresstype %s is unsupported." % compress_type)
    if not raw_size:
        if compress_type:
            raise BodyError(
                400, "MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary."
            )
        return body
    try:
        size = int(raw_size)
    except ValueError:
        raise BodyError(400, "InvalidBodyRawSize", "x-log-bodyrawsize is invalid.") from None
    try:
        data = lz4_block_decompress(body, size) if compress_type == "lz4" else body
        if compress_type == "deflate":
            data = zlib.decompress(body)
    except (ValueError, zlib.error) as exc:
        raise BodyError(400, "PostBodyUncompressError", "The request body cannot be decompressed: %s" % exc) from None
    if len(data) != size:
        raise BodyError(400, "InvalidBodyRawSize", "x-log-bodyrawsize is invalid.")
    return data


def _text(fields: Dict[int, list], number: int) -> str:
    values = fields.get(number) or [b""]
    value = values[-1]
    if not isinstance(value, bytes):
        raise ValueError("field %d is not a string" % number)
    return value.decode("utf-8", "replace")


def _pairs(messages: list) -> Tuple[Tuple[str, str], ...]:
    pairs = []
    for raw in messages:
        pair = decode_message(raw)
        pairs.append((_text(pair, 1), _text(pair, 2)))
    return tuple(pairs)


def decode_log_group(data: bytes) -> List[LogRecord]:
    """The records of one LogGroup; BodyError (400 PostBodyInvalid) when it is not one."""
    try:
        group = decode_message(data)
        topic, source, tags = _text(group, 3), _text(group, 4), _pairs(group.get(6, []))
        records = []
        for raw in group.get(1, []):
            log = decode_message(raw)
            if not log.get(1) or not isinstance(log[1][-1], int):
                raise ValueError("a log without its Time")
            records.append(LogRecord(log[1][-1], _pairs(log.get(2, [])), topic, source, tags))
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise BodyError(400, "PostBodyInvalid", "The LogGroup in the request body is invalid: %s" % exc) from None
    return records


def encode_log_group_list(groups: List[bytes]) -> bytes:
    """A LogGroupList of LogGroups stored as they arrived (field 1, length-delimited, each)."""
    return b"".join(_varint(1 << 3 | 2) + _varint(len(g)) + g for g in groups)
