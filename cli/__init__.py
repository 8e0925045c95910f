"""The ``dropml`` command: the product's tools (``prepare``, ``input-schema``, ``demo``) on a person's machine.

``cli.main`` is the entry point. It may import ``core``, ``functions`` and ``local`` (the emulator, which
brings its own ``dropml local`` command group); cloud code never imports this package.
"""
