"""Wafer campaigns: a probe station steps across dies, procedures run on each, and the
runs are analysed in parallel (``ftjlab campaign run`` / ``ftjlab campaign analyze``)."""
