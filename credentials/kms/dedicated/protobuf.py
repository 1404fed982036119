"""The three protobuf messages of a dedicated KMS instance gateway's GetSecretValue, encoded and decoded by hand.

A codec of our own instead of the ``protobuf`` runtime: the messages are flat (strings, one bool, one int32) and
the official SDK's generated classes pin protobuf<4, which is what this library no longer wants to inherit. The
field numbers are those of the SDK's ``api.proto`` (alibabacloud-dkms-gcs 1.0.2, openapi_util/protobuf/api_pb2.py).
Encoding follows proto3: fields in field-number order, default values (empty, 0, false) left out; decoding skips
fields it does not know, as protobuf does, and raises ValueError on malformed input.
"""

from typing import Dict, List, Optional, Tuple, Union

# GetSecretValueRequest: SecretName = 1, VersionStage = 2, VersionId = 3 (strings), FetchExtendedConfig = 4 (bool).
# GetSecretValueResponse: every field a string; VersionStages (5) is repeated.
RESPONSE_FIELDS = {
    1: "SecretName",
    2: "SecretType",
    3: "SecretData",
    4: "SecretDataType",
    5: "VersionStages",
    6: "VersionId",
    7: "CreateTime",
    8: "RequestId",
    9: "LastRotationDate",
    10: "NextRotationDate",
    11: "ExtendedConfig",
    12: "AutomaticRotation",
    13: "RotationInterval",
}
# Error: StatusCode is an int32, the others strings.
ERROR_FIELDS = {1: "StatusCode", 2: "ErrorCode", 3: "ErrorMessage", 4: "RequestId"}

Value = Union[int, bytes]


def encode_get_secret_value_request(
    secret_name: str,
    version_stage: Optional[str] = None,
    version_id: Optional[str] = None,
    fetch_extended_config: bool = False,
) -> bytes:
    """The request body, byte for byte what the SDK's ``GetSecretValueRequest.SerializeToString()`` gives."""
    out = bytearray()
    for number, value in ((1, secret_name), (2, version_stage), (3, version_id)):
        if value:
            data = value.encode("utf-8")
            out += _varint(number << 3 | 2) + _varint(len(data)) + data
    if fetch_extended_config:
        out += _varint(4 << 3) + _varint(1)
    return bytes(out)


def decode_get_secret_value_response(data: bytes) -> Dict[str, Union[str, List[str]]]:
    """Every field by its api.proto name ("" when absent; VersionStages a list); ValueError when malformed."""
    fields = _decode(data)
    result: Dict[str, Union[str, List[str]]] = {}
    for number, name in RESPONSE_FIELDS.items():
        texts = [_text(value) for value in fields.get(number, [])]
        result[name] = texts if name == "VersionStages" else (texts[-1] if texts else "")
    return result


def decode_error(data: bytes) -> Dict[str, Union[str, int]]:
    """The gateway's Error message: StatusCode (int), ErrorCode, ErrorMessage, RequestId; ValueError when malformed."""
    fields = _decode(data)
    result: Dict[str, Union[str, int]] = {}
    for number, name in ERROR_FIELDS.items():
        values = fields.get(number, [])
        if number == 1:
            status = values[-1] if values else 0
            if not isinstance(status, int):
                raise ValueError("StatusCode is not a varint")
            result[name] = status - (1 << 64) if status >= 1 << 63 else status  # int32: negatives are 10 bytes
        else:
            result[name] = _text(values[-1]) if values else ""
    return result


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: Value) -> str:
    if not isinstance(value, bytes):
        raise ValueError("a string field is not length-delimited")
    return value.decode("utf-8")  # UnicodeDecodeError is a ValueError


def _decode(data: bytes) -> Dict[int, List[Value]]:
    """field number -> values in order (varints as int, length-delimited as bytes; fixed32/64 skipped)."""
    fields: Dict[int, List[Value]] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            if pos >= len(data) or shift > 63:
                raise ValueError("truncated or overlong varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    def take(size: int) -> bytes:
        nonlocal pos
        if size < 0 or pos + size > len(data):
            raise ValueError("truncated field")
        chunk, pos = data[pos : pos + size], pos + size
        return chunk

    while pos < len(data):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field number 0")
        value: Tuple[bool, Value]
        if wire == 0:
            value = True, varint()
        elif wire == 2:
            value = True, take(varint())
        elif wire in (1, 5):
            value = False, take(8 if wire == 1 else 4)  # not in these messages: skipped, as protobuf does
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if value[0]:
            fields.setdefault(number, []).append(value[1])
    return fields
