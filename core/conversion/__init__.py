"""CSV upload → target-first splits: the conversion the ingest Lambda and ``dropml prepare`` share."""

from core.conversion.convert import ConversionResult, convert

__all__ = ["ConversionResult", "convert"]
