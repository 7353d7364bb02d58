"""Keithley 2450 emulator: the SCPI command tree (headers, parameters, their handlers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..scpi import Boolean, Choice, Number, String, repeat
from .keithley2450_display import _b, _g
from .keithley2450_spec import _ELEMENTS, CURRENT_RANGES, RESISTANCE_RANGES, VOLTAGE_RANGES
from .keithley2450_trigger import _Model


class CommandSet:
    """Mixin of :class:`~.keithley2450.Keithley2450`: builds its command tree in ``_build``.

    The handlers it registers are the instrument's own methods and state.
    """

    tree: Any

    def _build(self) -> None:
        t = self.tree
        t.add(
            "*LANG",
            set=self._set_lang,
            query=lambda c: "SCPI",
            params=(Choice("SCPI", "TSP", "SCPI2400"),),
        )
        self._build_source()
        self._build_sense()
        self._build_buffers()
        self._build_trigger()
        self._build_system()

    def _user_delay_setting(self, t: Any, pattern: str, subsystem: str, func: str) -> None:
        """A ``...:DELay:USER<n>`` setting (n = 1-5, 0-10 ks), stored per subsystem
        (``SOUR``/``SENS``), function and n for the trigger model's delay blocks."""
        t.setting(
            pattern,
            Number(0.0, 10_000.0, default=0.0, units=("S",)),
            lambda s: self.user_delay[(subsystem, func, s[1])],
            lambda s, v: self.user_delay.__setitem__((subsystem, func, s[1]), float(v)),
            _g,
            max_suffix=5,
        )

    def _build_source(self) -> None:
        t = self.tree
        t.add(
            "SOURce#:FUNCtion[:MODE]",
            set=self._set_source_function,
            query=lambda c: self.source_function,
            params=(Choice("VOLTage", "CURRent"),),
        )
        for func, limit, lim_name, lim_range in (
            ("VOLT", 210.0, "ILIMit", (1e-9, 1.05)),
            ("CURR", 1.05, "VLIMit", (0.02, 210.0)),
        ):
            long = "VOLTage" if func == "VOLT" else "CURRent"
            t.add(
                f"SOURce#:{long}[:LEVel][:IMMediate][:AMPLitude]",
                set=lambda c, f=func: self._set_level(f, c.args[0]),
                query=lambda c, f=func: self._query_level(f, c),
                params=(
                    Number(-limit, limit, default=0.0, units=("V" if func == "VOLT" else "A",)),
                ),
                query_params=(Choice("MINimum", "MAXimum", "DEFault", optional=True),),
            )
            ranges = VOLTAGE_RANGES if func == "VOLT" else CURRENT_RANGES
            t.add(
                f"SOURce#:{long}:RANGe",
                set=lambda c, f=func, r=ranges: self._set_source_range(f, c.args[0], r),
                query=lambda c, f=func: _g(self.source_range[f]),
                params=(Number(-limit, limit, default=ranges[-2]),),
            )
            t.setting(
                f"SOURce#:{long}:RANGe:AUTO",
                Boolean(),
                lambda s, f=func: self.source_autorange[f],
                lambda s, v, f=func: self.source_autorange.__setitem__(f, v),
                _b,
            )
            t.add(
                f"SOURce#:{long}:{lim_name}[:LEVel]",
                set=lambda c, f=func: self._set_limit(f, c.args[0]),
                query=lambda c, f=func: _g(self.ilim if f == "VOLT" else self.vlim),
                params=(Number(*lim_range, default=lim_range[0] if func == "CURR" else 1.05e-4),),
            )
            t.add(
                f"SOURce#:{long}:{lim_name}[:LEVel]:TRIPped",
                query=lambda c, f=func: _b(self.tripped[f]),
            )
            t.setting(
                f"SOURce#:{long}:DELay",
                Number(0.0, 10_000.0, default=0.0, units=("S",)),
                lambda s, f=func: self.source_delay[f],
                lambda s, v, f=func: self._set_delay(f, v),
                _g,
            )
            # :SOURce[1]:<function>:DELay:USER<n> (n = 1-5, 0-10 ks; 2450-901-01 Rev B 6-69):
            # user delays the trigger model's delay blocks may refer to; stored only.
            self._user_delay_setting(t, f"SOURce#:{long}:DELay:USER#", "SOUR", func)
            t.setting(
                f"SOURce#:{long}:DELay:AUTO",
                Boolean(),
                lambda s, f=func: self.source_delay_auto[f],
                lambda s, v, f=func: self.source_delay_auto.__setitem__(f, v),
                _b,
            )
            t.setting(
                f"SOURce#:{long}:READ[:BACK]",
                Boolean(),
                lambda s, f=func: self.readback[f],
                lambda s, v, f=func: self.readback.__setitem__(f, v),
                _b,
            )
            t.add(
                f"SOURce#:SWEep:{long}:LINear",
                set=lambda c, f=func: self._load_sweep(f, c),
                params=(
                    Number(-limit, limit),
                    Number(-limit, limit),
                    Number(2, 1e6, integer=True),
                    Number(-1, 10_000, optional=True),
                    Number(1, 268_435_455, integer=True, optional=True),
                    Choice("BEST", "AUTO", "FIXed", optional=True),
                    Boolean(optional=True),
                    Boolean(optional=True),
                    String(optional=True),
                ),
            )
            t.setting(
                f":OUTPut#:{long}:SMODe",
                Choice("HIMPedance", "NORMal", "ZERO", "GUARd"),
                lambda s, f=func: self.output_off_mode[f],
                lambda s, v, f=func: self.output_off_mode.__setitem__(f, v),
            )
        t.setting(":OUTPut#[:STATe]", Boolean(), lambda s: self.output, self._set_output, _b)
        levels = ("PROT2", "PROT5", "PROT10", "PROT20", "PROT40", "PROT60", "PROT80",
                  "PROT100", "PROT120", "PROT140", "PROT160", "PROT180", "NONE")
        t.setting(
            ":SOURce#:VOLTage:PROTection[:LEVel]",
            Choice(*levels),
            lambda s: "NONE" if self.protection_v is None else f"PROT{self.protection_v:g}",
            self._set_protection,
        )
        t.add(":SOURce#:VOLTage:PROTection:TRIPped",
              query=lambda c: _b(self.protection_tripped))
        t.setting(
            ":ROUTe:TERMinals",
            Choice("FRONt", "REAR"),
            lambda s: self.terminals,
            lambda s, v: setattr(self, "terminals", v),
        )

    def _build_sense(self) -> None:
        t = self.tree
        t.add(
            "[:SENSe#]:FUNCtion[:ON]",
            set=self._set_sense_function,
            query=lambda c: (
                f'"{self.sense_function}:DC"' if self.sense_function != "RES" else '"RES"'
            ),
            params=(
                Choice(
                    "CURRent",
                    "VOLTage",
                    "RESistance",
                    strings=True,
                    aliases={
                        "CURR:DC": "CURR",
                        "VOLT:DC": "VOLT",
                        "CURRENT:DC": "CURR",
                        "VOLTAGE:DC": "VOLT",
                    },
                ),
            ),
        )
        for func, long, ranges in (
            ("CURR", "CURRent[:DC]", CURRENT_RANGES),
            ("VOLT", "VOLTage[:DC]", VOLTAGE_RANGES),
            ("RES", "RESistance", RESISTANCE_RANGES),
        ):
            t.add(
                f"[:SENSe#]:{long}:RANGe[:UPPer]",
                set=lambda c, f=func, r=ranges: self._set_sense_range(f, c.args[0], r),
                query=lambda c, f=func: _g(self.measure[f].range),
                params=(Number(-ranges[-1] * 1.05, ranges[-1] * 1.05, default=ranges[-1]),),
            )
            t.setting(
                f"[:SENSe#]:{long}:RANGe:AUTO",
                Boolean(),
                lambda s, f=func: self.measure[f].autorange,
                lambda s, v, f=func: setattr(self.measure[f], "autorange", v),
                _b,
            )
            t.setting(
                f"[:SENSe#]:{long}:NPLCycles",
                Number(0.01, 10.0, default=1.0),
                lambda s, f=func: self.measure[f].nplc,
                lambda s, v, f=func: setattr(self.measure[f], "nplc", float(v)),
                _g,
            )
            t.setting(
                f"[:SENSe#]:{long}:AZERo[:STATe]",
                Boolean(),
                lambda s, f=func: self.measure[f].autozero,
                lambda s, v, f=func: setattr(self.measure[f], "autozero", v),
                _b,
            )
            # :SENSe[1]:<function>:DELay:USER<n> (n = 1-5, 0-10 ks; 2450-901-01 Rev B 6-96)
            self._user_delay_setting(t, f"[:SENSe#]:{long}:DELay:USER#", "SENS", func)
            t.setting(
                f"[:SENSe#]:{long}:AVERage[:STATe]",
                Boolean(),
                lambda s, f=func: self.measure[f].filter_on,
                lambda s, v, f=func: setattr(self.measure[f], "filter_on", v),
                _b,
            )
            t.setting(
                f"[:SENSe#]:{long}:AVERage:TCONtrol",
                Choice("REPeat", "MOVing"),
                lambda s, f=func: self.measure[f].filter_type,
                lambda s, v, f=func: setattr(self.measure[f], "filter_type", v),
            )
            t.setting(
                f"[:SENSe#]:{long}:AVERage:COUNt",
                Number(1, 100, default=10, integer=True),
                lambda s, f=func: self.measure[f].filter_count,
                lambda s, v, f=func: setattr(self.measure[f], "filter_count", v),
                str,
            )
            t.add(
                f":MEASure#:{long}",
                query=lambda c, f=func: self._read(c, f),
                query_params=(String(optional=True), repeat(Choice(*_ELEMENTS))),
            )
        # :SENSe[1]:<function>:RSENse ON|OFF (2450-901-01 Rev B, 6-94) exists for CURRent,
        # VOLTage and RESistance; the instrument has one set of sense terminals, so the three
        # headers set one 2-/4-wire state.
        for long in ("CURRent[:DC]", "VOLTage[:DC]", "RESistance"):
            t.setting(
                f"[:SENSe#]:{long}:RSENse",
                Boolean(),
                lambda s: self.four_wire,
                lambda s, v: setattr(self, "four_wire", v),
                _b,
            )
        t.setting(
            "[:SENSe#]:COUNt",
            Number(1, 300_000, default=1, integer=True),
            lambda s: self.sense_count,
            lambda s, v: setattr(self, "sense_count", v),
            str,
        )
        t.add("[:SENSe#]:AZERo:ONCE", set=lambda c: self.bench.idle(2 * self.aperture_s()))
        t.add(
            ":READ[:DEFault]",
            query=lambda c: self._read(c, None),
            query_params=(String(optional=True), repeat(Choice(*_ELEMENTS))),
        )
        t.add(
            ":MEASure#[:DEFault]",
            query=lambda c: self._read(c, None),
            query_params=(String(optional=True), repeat(Choice(*_ELEMENTS))),
        )
        t.add(
            ":FETCh",
            query=self._fetch,
            query_params=(String(optional=True), repeat(Choice(*_ELEMENTS))),
        )

    def _build_buffers(self) -> None:
        t = self.tree
        self._make_command = t.add(
            ":TRACe:MAKE",
            set=self._make_buffer,
            params=(
                String(),
                Number(0, None, integer=True),
                Choice("STANdard", "COMPact", "FULL", "WRITable", "FULLWRITable", optional=True),
            ),
        )
        t.add(":TRACe:DELete", set=self._delete_buffer, params=(String(),))
        t.add(
            ":TRACe:POINts",
            set=self._set_points,
            query=lambda c: str(self._buffer(c.args[0] if c.args else None).capacity),
            params=(Number(0, None, integer=True), String(optional=True)),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:CLEar",
            set=lambda c: self._buffer(c.args[0] if c.args else None).clear(),
            params=(String(optional=True),),
        )
        t.add(
            ":TRACe:ACTual",
            query=lambda c: str(self._buffer(c.args[0] if c.args else None).count),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:ACTual:STARt",
            query=lambda c: str(min(1, self._buffer(c.args[0] if c.args else None).count)),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:ACTual:END",
            query=lambda c: str(self._buffer(c.args[0] if c.args else None).count),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:FILL:MODE",
            set=self._set_fill_mode,
            query=lambda c: self._buffer(c.args[0] if c.args else None).fill_mode,
            params=(Choice("CONTinuous", "ONCE"), String(optional=True)),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:LOG:STATe",
            set=lambda c: self._buffer(c.args[1] if len(c.args) > 1 else None),
            query=lambda c: "0",
            params=(Boolean(), String(optional=True)),
            query_params=(String(optional=True),),
        )
        t.add(
            ":TRACe:DATA",
            query=self._trace_data,
            query_params=(
                Number(None, None, integer=True),
                Number(None, None, integer=True),
                String(optional=True),
                repeat(Choice(*_ELEMENTS)),
            ),
        )
        t.add(
            ":TRACe:TRIGger",
            set=lambda c: self._acquire(
                self.sense_count, 0.0, self._buffer(c.args[0] if c.args else None)
            ),
            params=(String(optional=True),),
        )
        for name, fn in (
            ("AVERage", np.mean),
            ("MAXimum", np.max),
            ("MINimum", np.min),
            ("STDDev", lambda a: np.std(a, ddof=1) if len(a) > 1 else 0.0),
            ("PK2Pk", np.ptp),
        ):
            t.add(
                f":TRACe:STATistics:{name}",
                query=lambda c, f=fn: self._stat(c, f),
                query_params=(String(optional=True),),
            )
        t.add(
            ":TRACe:STATistics:CLEar",
            set=lambda c: self._buffer(c.args[0] if c.args else None),
            params=(String(optional=True),),
        )
        t.add(
            ":FORMat[:DATA]",
            set=lambda c: setattr(self, "data_format", c.args[0]),
            query=lambda c: self.data_format,
            params=(Choice("ASCii", "REAL", "SREal"),),
        )
        t.add(
            ":FORMat:BORDer",
            set=lambda c: setattr(self, "byte_order", c.args[0]),
            query=lambda c: self.byte_order,
            params=(Choice("NORMal", "SWAPped"),),
        )
        t.add(
            ":FORMat:ASCii:PRECision",
            set=self._set_precision,
            query=lambda c: "AUTO" if self.ascii_precision == 0 else str(self.ascii_precision),
            params=(Number(0, 16, integer=True, specials={"AUTO": 0}),),
        )

    def _build_trigger(self) -> None:
        t = self.tree
        t.add(
            ":TRIGger:LOAD",
            set=self._load_template,
            params=(
                String(),
                Number(optional=True),
                Number(0, 10_000, optional=True, units=("S",)),
                String(optional=True),
            ),
        )
        t.add(
            ":TRIGger:LOAD:LOOP:SIMPle",
            set=lambda c: self._load_loop("SIMPLE", c.args),
            params=(
                Number(optional=True),
                Number(0, 10_000, optional=True, units=("S",)),
                String(optional=True),
            ),
        )
        t.add(
            ":TRIGger:LOAD:LOOP:DURation",
            set=lambda c: self._load_loop("DURATION", c.args),
            params=(
                Number(optional=True),
                Number(0, 10_000, optional=True, units=("S",)),
                String(optional=True),
            ),
        )
        t.add(":TRIGger:LOAD:EMPTy", set=lambda c: setattr(self, "model", _Model("EMPTY")))
        t.add(":INITiate[:IMMediate]", set=lambda c: self._run_model())
        t.add(":ABORt", set=lambda c: None)
        t.add(":TRIGger:STATe", query=lambda c: "IDLE;IDLE;0")

    def _build_system(self) -> None:
        t = self.tree
        t.add(":SYSTem:ERRor[:NEXT]", query=lambda c: self.next_error().scpi())
        t.add(":SYSTem:ERRor:COUNt", query=lambda c: str(len(self.errors)))
        t.add(
            ":SYSTem:EVENtlog:NEXT", query=self._event_next, query_params=(Number(optional=True),)
        )
        t.add(
            ":SYSTem:EVENtlog:COUNt",
            query=lambda c: str(len(self.errors)),
            query_params=(Number(optional=True),),
        )
        t.add(":SYSTem:CLEar", set=lambda c: self.errors.clear())
        t.add(":SYSTem:LFRequency", query=lambda c: _g(self.line_frequency_hz))
        t.add(":SYSTem:VERSion", query=lambda c: "1999.0")
        t.add(
            ":SYSTem:BEEPer[:IMMediate]",
            set=lambda c: None,
            params=(Number(20, 8000, units=("HZ",)), Number(0.001, 100, units=("S",))),
        )
        t.add(":STATus:PRESet", set=lambda c: None)
        t.add(":STATus:CLEar", set=lambda c: None)
        t.add(":STATus:OPERation[:EVENt]", query=lambda c: "0")
        t.add(":STATus:QUEStionable[:EVENt]", query=lambda c: "0")
