"""dataos-apikey-bot: DataOS API keys from Slack, delivered privately, with expiry reminders."""

__version__ = "0.1.0"
