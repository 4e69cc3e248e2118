"""The backbone: EMW1, the ZeroMQ wire protocol between the emulator and real endpoints.

* :func:`decode`, :func:`encode`, :func:`seal`, :func:`verify`, :func:`signed_bytes` — the
  frames as pure functions; :class:`Message`, :class:`Header`, :class:`Delivery` — the
  frozen records; :class:`Signer` — an identity and its LGPKI message-signing key.
* :func:`peek_src` — the header's sender alone, for the broker's identity check.
* :class:`WireError` — the one error decoding raises (code 400, with a reason).

``docs/protocol.md`` is the specification; ``docs/protocol-vectors.json`` its test vectors.

* :class:`Emulator` — the ROUTER broker and poll loop in front of the engine;
  :class:`Testbed`, :class:`KeyRegistry` — the keys of an emulated network.
* :class:`Service`, :class:`Client` — the Python SDK for real programs; :class:`EndToEnd` —
  the checks every receiver makes. ``docs/emulator.md`` walks through them.
"""

from lgwan_sim.backbone._control import Control, ControlError, ControlServer, EventStream
from lgwan_sim.backbone._emulator import Emulator, EmulatorStats, service_hosts
from lgwan_sim.backbone._sdk import Client, EmulatorError, Endpoints, Reply, Request, Service
from lgwan_sim.backbone._services import reference_service
from lgwan_sim.backbone._testbed import EMULATOR, Credentials, Identity, KeyRegistry, Testbed
from lgwan_sim.backbone._trust import EndToEnd
from lgwan_sim.backbone._wire import (
    MAX_ADDRESS_BYTES,
    MAX_BODY_BYTES,
    MAX_DELIVERY_BYTES,
    MAX_FRAME_BYTES,
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
    "EMULATOR",
    "MAX_ADDRESS_BYTES",
    "MAX_BODY_BYTES",
    "MAX_DELIVERY_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ENTRIES",
    "MAX_SIGNATURE_BYTES",
    "PROTOCOL",
    "SIGNATURE_TAG",
    "Algorithm",
    "Client",
    "Command",
    "Control",
    "ControlError",
    "ControlServer",
    "Credentials",
    "Delivery",
    "Emulator",
    "EmulatorError",
    "EmulatorStats",
    "EndToEnd",
    "Endpoints",
    "ErrorCode",
    "EventStream",
    "Header",
    "Identity",
    "KeyRegistry",
    "Message",
    "Reply",
    "Request",
    "Service",
    "Signer",
    "Testbed",
    "WireError",
    "decode",
    "decode_delivery",
    "decode_header",
    "encode",
    "encode_delivery",
    "encode_header",
    "peek_src",
    "reference_service",
    "seal",
    "service_hosts",
    "signed_bytes",
    "verify",
]
