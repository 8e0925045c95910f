"""The run's last word: an email for people and JSON for programs, on success and on every failure."""
