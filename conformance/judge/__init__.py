"""Expected outcomes from the reference, the one comparison, property checks, the tolerance policy."""
