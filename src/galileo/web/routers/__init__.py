"""One router module per resource: experiments, workers, groups, routing."""
