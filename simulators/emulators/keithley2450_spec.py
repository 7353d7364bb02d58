"""Keithley 2450 emulator: figures from the manual (ranges, buffer sizes, buffer elements)."""

NAN_READING = 9.91e37
CURRENT_RANGES = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
VOLTAGE_RANGES = (0.02, 0.2, 2.0, 20.0, 200.0)
RESISTANCE_RANGES = (20.0, 200.0, 2e3, 2e4, 2e5, 2e6, 2e7, 2e8)
MAX_BUFFER_STANDARD = 6_875_000
MAX_BUFFER_COMPACT = 27_500_000
DEFAULT_BUFFERS = ("defbuffer1", "defbuffer2")
_FUNC_CODES = {"CURR": 0, "VOLT": 1, "RES": 2}
_UNITS = ("Amp DC", "Volt DC", "Ohm")
_ELEMENTS = (
    "READing", "RELative", "SOURce", "SOURSTATus", "SOURUNIT", "SOURFORMatted", "STATus",
    "UNIT", "DATE", "TIME", "TSTamp", "SEConds", "FRACtional", "FORMatted", "EXTRa",
    "EXTRFORMatted", "EXTRUNIT",
)  # fmt: skip
_LONG_ELEMENTS = {"SOURFORMATTED": "SOURFORM", "EXTRFORMATTED": "EXTRFORM"}
_BINARY_ELEMENTS = {"READ", "REL", "SOUR", "EXTR"}
#: Source-status value of a reading taken while the source was limited (reference: bit 32).
SOURCE_LIMITED = 32
