"""``serve``: the training image's HTTP inference server (SageMaker's ``/ping`` and ``/invocations``).

Small replaceable steps, one module each, so a reader finds each where its name says:
:mod:`.model` loads the model directory, :mod:`.decode` turns a request body into a feature matrix,
:mod:`.predict` runs XGBoost, :mod:`.encode` writes the answer, :mod:`.app` is the WSGI app that
strings them together and :mod:`.server` runs it under gunicorn.
"""
