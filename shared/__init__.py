"""The app's own code: one module per concern (see README, "Architecture")."""
