"""The run report: the page a person opens after a run (``runs/<dataset>/<run_id>/report.html``)."""
