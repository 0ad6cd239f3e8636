"""Real parts for tests: Redis targets, service processes, HTTP receivers."""
