"""The training image's code: ``train`` and ``serve`` per the SageMaker container contract.

It runs unchanged outside a container when ``DROPML_OPT_ML`` points at a folder laid out like
``/opt/ml``, which is how local mode and the tests run it.
"""
