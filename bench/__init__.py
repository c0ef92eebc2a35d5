"""Load and benchmark scripts, and the harness that runs real processes for them and the tests."""
