"""Commands built on the run pipeline: mutants, fuzz, fixtures, coverage, smoke, matrix."""
