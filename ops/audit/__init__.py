"""The auditor's commands: verify, verify-draw, replay, events tail, export (``ops.audit.cli``)."""
