"""Keys that renew themselves: team keys (and the bot's own) rotated into Vault, step by step.

`engine` (the passes, the claims, failures), `steps` (create, write, verify, announce, revoke, each
resumable), `notices` (the announcement updated in place, the failure message), `audience` (who hears them: the team
channel, or its owners by DM when the channel is shared with another organisation) and `operator` (the bot's
own key read from the store at start-up and re-read on a timer or when DataOS refuses it). Pure rules are
in `bot.domain.rotation`; storage in `bot.store.rotations`; the store's client in `bot.vault`; the admin
command and buttons in `bot.slack.rotation`, which reach the engine through `Runtime.rotate_now`.
"""
