"""raftha.model package."""
