"""A stateful GitHub stand-in for tests and the demo. Imports nothing else of backhub's."""
