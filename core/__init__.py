"""Code two cloud parts must agree on, written once: schema and encoding, dataset settings, names.

Plain Python with no AWS: the ingest Lambda, the training image and local mode all ship it.
"""
