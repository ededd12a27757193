"""raftha.scheduler package."""
