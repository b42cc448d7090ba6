"""dexndm.hardware: the physical LEAP hand over Dynamixel Protocol 2.0.

- ``control_table``: XC330 register addresses and sizes, as data.
- ``protocol``: Protocol 2.0 framing (CRC-16, byte stuffing), used by the emulator.
- ``bus``: ``DynamixelBus`` over dynamixel-sdk (retries, watchdog, hardware-error decoding).
- ``leap``: ``LeapHand`` (a ``dexndm.reality.base.RealHand``) and ``LeapHandConfig``.
- ``emulator`` / ``motor_backend``: a byte-level device emulator on a pseudo-terminal, its
  joints moved by a pluggable ``MotorBackend``.
"""
