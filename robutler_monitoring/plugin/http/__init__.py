"""The HTTP side of the monitoring plugin: the wrapper, its endpoints, routes and request context."""
