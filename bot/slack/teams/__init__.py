"""Team keys: the keys of DataOS application users, owned by a team of Slack people and user groups.

`keys` (create, reveal, revoke for owners, and the one owner check, `act_as`), `lists` (the team part of
`/apikey list`, within Slack's limits), `admin` (the admins'
`/apikey admin team(s)`), `reminder_buttons` (the buttons on a team channel's reminder) and `offboarding`
(a deactivated owner leaves its teams). Their Block Kit is in `bot.slack.blocks.teams` and
`bot.slack.blocks.team_reminders`; who owns what is `bot.teams`.
"""
