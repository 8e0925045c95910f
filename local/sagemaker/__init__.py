"""Local SageMaker: training jobs, tuning jobs and endpoints that really run, driven by API request dicts.

:class:`local.sagemaker.engine.SageMakerEngine` is the one object a caller holds: it takes the request
dicts of the SageMaker API (the shapes of botocore's service model), runs the training image's
``train`` and ``serve`` as subprocesses, and answers ``Describe*``/``List*`` with dicts shaped like
AWS's. ``shutdown()`` ends every process it started.
"""
