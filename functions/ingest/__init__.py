"""The S3 ingest: an uploaded CSV becomes target-first training data and a state machine execution."""
