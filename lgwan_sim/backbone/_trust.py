"""End-to-end checks of EMW1 messages: what every receiving endpoint does before acting.

The order is ``docs/protocol.md`` section 6: the message is for the receiver; its ``kid``
names a certificate (the header's ``cert``, or the key registry's); that certificate's
LGPKI path is valid now for the sender named by ``src`` (pinned anchor, revocation,
algorithm policy, message-signing usage; paths are cached by certificate); the signature
verifies over the signed bytes; and ``ts`` is inside the replay window with an ``id`` not
seen before. Every refusal is a :class:`~lgwan_sim.errors.VerificationError` whose
``reason`` says which check failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from lgwan_sim.backbone._testbed import KeyRegistry
from lgwan_sim.backbone._wire import Message, verify
from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import MessageVerifier

__all__ = ["EndToEnd"]


class EndToEnd:
    """Check received messages against the key registry and an LGPKI relying party.

    ``accepts(address)`` says whether an address names this receiver (its identity, or a
    service it offers). ``clock`` gives the receiver's time in nanoseconds since the epoch.
    """

    def __init__(
        self,
        registry: KeyRegistry,
        verifier: MessageVerifier,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.registry = registry
        self.verifier = verifier
        self.clock = clock
        self.accepted = 0
        self.rejected: dict[str, int] = {}

    def check(self, message: Message, accepts: Callable[[str], bool]) -> None:
        """Raise :class:`VerificationError` unless ``message`` passes every check."""
        try:
            self._check(message, accepts)
        except VerificationError as exc:
            self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
            raise
        self.accepted += 1

    def _check(self, message: Message, accepts: Callable[[str], bool]) -> None:
        h = message.header
        if not accepts(message.address):
            raise VerificationError(
                f"message for {message.address!r} is not for this receiver",
                reason="wrong-destination",
            )
        cert = h.cert
        if cert is None:
            ident = self.registry.by_kid.get(h.kid)
            if ident is None:
                raise VerificationError(
                    f"message from {h.src!r} is signed by a key the registry does not know",
                    reason="unknown-key",
                )
            cert = ident.certificate
        now_ns = self.clock()
        now = datetime.fromtimestamp(now_ns // 1_000_000_000, UTC).replace(
            microsecond=(now_ns // 1000) % 1_000_000
        )
        path = self.verifier.check_signer(cert, h.src, now)
        verify(message, path.leaf_key, key_id=path.leaf_key_id)
        self.verifier.check_fresh(h.kid, h.id, h.ts_ns // 1000, now)
