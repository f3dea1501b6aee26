"""A/B testing of model sets: sticky routing and peeking-safe statistics (pure, no storage)."""
