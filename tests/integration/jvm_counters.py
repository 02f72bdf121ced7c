"""A running JVM's performance counters (HotSpot's hsperfdata file), read without a JDK: the CI image has only a JRE,
so `jcmd PerfCounter.print` is not there. Layout: HotSpot's perfMemory.hpp (PerfDataPrologue, PerfDataEntry)."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

MAGIC = 0xCAFEC0C0
LONG = ord("J")


def counters_file(pid: int) -> Path:
    """Where HotSpot keeps the counters of `pid`: <system temp>/hsperfdata_<user>/<pid>."""
    import getpass

    return Path(tempfile.gettempdir()) / f"hsperfdata_{getpass.getuser()}" / str(pid)


def long_counters(pid: int) -> dict[str, int]:
    """Every scalar (long) counter of the JVM `pid`, by name (`java.threads.started`, ...)."""
    data = counters_file(pid).read_bytes()
    magic, byte_order = struct.unpack_from(">IB", data, 0)
    if magic != MAGIC:
        raise ValueError("not an hsperfdata file")
    order = ">" if byte_order == 0 else "<"
    entry_offset, entries = struct.unpack_from(order + "ii", data, 24)
    found, offset = {}, entry_offset
    for _ in range(entries):
        length, name_offset, vector_length, data_type, _flags, _units, _variability, data_offset = struct.unpack_from(
            order + "iiiBBBBi", data, offset
        )
        name = data[offset + name_offset : data.index(b"\0", offset + name_offset)].decode()
        if data_type == LONG and vector_length == 0:
            found[name] = struct.unpack_from(order + "q", data, offset + data_offset)[0]
        offset += length
    return found
