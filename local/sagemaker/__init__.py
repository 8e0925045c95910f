"""Local SageMaker: training, tuning and processing jobs and endpoints that really run, driven by API request dicts.

:class:`local.sagemaker.api.LocalSageMaker` is the one object a caller holds: it takes the request dicts
of the SageMaker API (the shapes of botocore's service model) for any account and region, runs the
training image's ``train``, ``serve`` and ``process`` as subprocesses, and answers ``Describe*``/``List*`` with dicts
shaped like AWS's. Behind it, one :class:`local.sagemaker.api.SageMakerEngine` per account and region
holds the training jobs, tuning jobs, models and endpoints. ``shutdown()`` ends every process started.

Where things are: ``api`` (operations, engines), ``context`` (what one engine's parts share),
``registry`` (resources by name, List* filtering and paging), ``processes`` (an image program as a
process), ``training_jobs``, ``tuning_jobs`` with ``search_space``, ``processing_jobs`` with ``request_validation``
(the service model's constraints), ``models``, ``endpoints`` with
``servers``, and the pieces they use: ``s3``, ``logs``, ``metrics``, ``images``, ``capacity``, ``errors``.
"""
