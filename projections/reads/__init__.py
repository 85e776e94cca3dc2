"""The read side's queries, one module per area (projections.queries assembles them)."""
