"""The state machine's first step: validate the execution input, prepare data if needed, plan the run."""
