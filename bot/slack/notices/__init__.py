""""Was this you?" in Slack (issue #28): the buttons on a notice about a key the bot did not make (`buttons`).
The notices themselves are found and posted by the sweep's discovery (`bot.reminders.notices`)."""
