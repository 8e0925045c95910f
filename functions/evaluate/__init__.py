"""Champion/challenger evaluation of a run's winner against the live endpoint."""
