"""raftha.daemon package."""
