"""lgwan-sim: a discrete-event simulator and real-time emulator of Japan's LGWAN."""

__version__ = "0.1.0"
