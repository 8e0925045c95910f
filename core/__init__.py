"""Code two cloud parts must agree on, written once: schema and encoding, dataset settings, names and
run paths, the problem types, the container contract, S3 URIs, the machine's CPUs and GPUs.

Plain Python with no AWS SDK at import: the Lambda functions, the training image and local mode all
ship it (``core.s3`` imports botocore only when it is called, which only the Lambdas and local mode do).
"""
