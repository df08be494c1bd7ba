"""Expiry reminders: the audience, the sweep (pure decisions + a runner), scheduling."""
