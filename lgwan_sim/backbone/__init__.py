"""The backbone: EMW1, the ZeroMQ wire protocol between the emulator and real endpoints.

* :func:`decode`, :func:`encode`, :func:`seal`, :func:`verify`, :func:`signed_bytes` — the
  frames as pure functions; :class:`Message`, :class:`Header`, :class:`Delivery` — the
  frozen records; :class:`Signer` — an identity and its LGPKI message-signing key.
* :func:`peek_src` — the header's sender alone, for the broker's identity check.
* :class:`WireError` — the one error decoding raises (code 400, with a reason).

``docs/protocol.md`` is the specification; ``docs/protocol-vectors.json`` its test vectors.
"""

from lgwan_sim.backbone._wire import (
    MAX_ADDRESS_BYTES,
    MAX_BODY_BYTES,
    MAX_DELIVERY_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_ENTRIES,
    MAX_SIGNATURE_BYTES,
    PROTOCOL,
    SIGNATURE_TAG,
    Algorithm,
    Command,
    Delivery,
    ErrorCode,
    Header,
    Message,
    Signer,
    WireError,
    decode,
    decode_delivery,
    decode_header,
    encode,
    encode_delivery,
    encode_header,
    peek_src,
    seal,
    signed_bytes,
    verify,
)

__all__ = [
    "MAX_ADDRESS_BYTES",
    "MAX_BODY_BYTES",
    "MAX_DELIVERY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ENTRIES",
    "MAX_SIGNATURE_BYTES",
    "PROTOCOL",
    "SIGNATURE_TAG",
    "Algorithm",
    "Command",
    "Delivery",
    "ErrorCode",
    "Header",
    "Message",
    "Signer",
    "WireError",
    "decode",
    "decode_delivery",
    "decode_header",
    "encode",
    "encode_delivery",
    "encode_header",
    "peek_src",
    "seal",
    "signed_bytes",
    "verify",
]
