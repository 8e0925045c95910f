"""Lambda functions. Handlers are thin adapters over plain, typed functions that need no AWS to read."""
