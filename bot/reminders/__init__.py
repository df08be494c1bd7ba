"""Expiry reminders: the sweep (a runner over the pure decisions of `bot.domain.reminders`) and its
scheduling. Who is reminded (`bot.audience`) and what became of each DM (`bot.delivery`) sit below the
runtime, which owns them."""
