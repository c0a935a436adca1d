"""aiml_course: build, validate, lint, grade and report on the course notebooks."""

__version__ = "0.1.0"
