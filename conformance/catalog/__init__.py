"""Reading case files safely, the schema, expanding `matrix:`, selecting cases."""
