"""The worker protocol and its transport, the runner, and the one run pipeline."""
