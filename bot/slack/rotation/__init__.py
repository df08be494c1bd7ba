"""Rotation's Slack surfaces: the admins' `/apikey admin team <app-user> rotate …` (`admin`) and the buttons
Rotate now, Retry and Renew by hand (`buttons`). Their Block Kit is in `bot.slack.blocks.rotation`; the
engine (`bot.rotation`, above this layer) is reached through `Runtime.rotate_now`."""
