"""CSV upload → target-first splits: the conversion the ingest Lambda and ``dropml prepare`` share."""

import os

# polars allocates through jemalloc, which by default keeps freed pages for seconds: the three-sink
# write pass then peaks ~100 MB higher, at random, than the memory it actually uses (425–515 MB on
# 2M × 30 columns, against a 512 MB budget). Returning pages from a background thread after 20 ms
# holds it near 360–415 MB at the same speed. jemalloc reads this once, when polars is first imported,
# so it is set here, before that import; an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:20,muzzy_decay_ms:0")
# polars' CSV reader parses the file in chunks of (by default) tens of MB and queues several ahead of
# the pipeline; on 2 cores the reader outruns the rest and the queue is what peak memory is made of,
# and it grows with the file. 4 MiB chunks, one ahead, kept the speed and cut the profile pass of a
# 960 MB upload from about 530 to 320 MB when measured alone (docs/scale.md has the figures per shape).
os.environ.setdefault("POLARS_CSV_CHUNK_SIZE", str(4 << 20))
os.environ.setdefault("POLARS_CSV_CHUNK_PREFETCH_LIMIT", "1")

from core.conversion.convert import ConversionResult, convert

__all__ = ["ConversionResult", "convert"]
