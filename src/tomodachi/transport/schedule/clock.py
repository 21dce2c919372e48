"""Compatibility home of the clocks; they live in :mod:`tomodachi.clock` (brokers use them too)."""

from tomodachi.clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock, get_clock, use_clock

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock", "get_clock", "use_clock"]
