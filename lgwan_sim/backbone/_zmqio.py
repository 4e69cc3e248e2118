"""Multipart send and receive for the hot path, with the flags as plain ints.

pyzmq's ``send_multipart`` and ``recv_multipart`` combine enum flags for every frame
(``SNDMORE | flags``) and ask ``RCVMORE`` with ``getsockopt``; for an eight-frame EMW1
message that Python work costs two to three times the send or receive itself. These do
the same frame by frame with the flags combined once, and a received frame's ``more``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zmq

__all__ = ["BLOCK", "NOBLOCK", "recv_frames", "send_frames", "send_routed"]

BLOCK = 0
NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_send = zmq.backend.Socket.send


def send_frames(sock: zmq.Socket[Any], frames: Sequence[bytes], flags: int = BLOCK) -> None:
    """Send ``frames`` as one message (as ``sock.send_multipart(frames, flags)``).

    On a ROUTER with ``ROUTER_MANDATORY`` an unroutable peer raises on the first frame,
    before anything is sent, as with ``send_multipart``.
    """
    more = flags | _SNDMORE
    send = _send
    for frame in frames[:-1]:
        send(sock, frame, more)
    send(sock, frames[-1], flags)


def send_routed(
    sock: zmq.Socket[Any], rid: bytes, frames: Sequence[bytes], flags: int = BLOCK
) -> None:
    """``send_frames(sock, [rid, *frames], flags)`` without building that list: a ROUTER's
    message to the peer ``rid``."""
    _send(sock, rid, flags | _SNDMORE)
    send_frames(sock, frames, flags)


def recv_frames(sock: zmq.Socket[Any], flags: int = BLOCK) -> list[zmq.Frame]:
    """The next message's frames, uncopied (as ``sock.recv_multipart(flags, copy=False)``).

    Raises ``zmq.Again`` with ``NOBLOCK`` when there is none; the frames of one message
    arrive together, so the rest never wait.
    """
    recv = sock.recv
    frame: zmq.Frame = recv(flags, copy=False)
    parts = [frame]
    while frame.more:
        frame = recv(flags, copy=False)
        parts.append(frame)
    return parts
