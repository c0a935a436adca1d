"""Source notebook → student notebook, public checks, grading bundle and walkthrough (see docs/authoring.md)."""
