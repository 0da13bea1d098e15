"""The analysis pipeline: attribution SQL, per-arm statistics, tests and the decision."""
