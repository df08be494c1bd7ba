"""Callback ids (views), action ids (buttons) and block ids of the Block Kit surfaces; the listeners
register exactly these."""

from __future__ import annotations

# callback ids (views) and action ids (buttons); the listeners register exactly these
CREATE_VIEW = "create_key"

REVOKE_VIEW = "revoke_key"

LINK_VIEW = "link_identity"

INFO_VIEW = "apikey_info"

LIST_ACTION = "list_keys"

CREATE_ACTION = "open_create"

REVEAL_ACTION = "reveal_key"

REVOKE_ACTION = "revoke_key"

PAGE_ACTION = "keys_page"

SHOW_HERE_ACTION = "show_key_here"

RENEW_VIEW = "renew_key"

RENEW_ACTION = "reminder_renew"

REMINDER_REVOKE_ACTION = "reminder_revoke"

SNOOZE_ACTION = "reminder_snooze"

MUTE_ACTION = "reminder_mute"

OLD_BLOCK, OLD_INPUT = "old_key_block", "old_key"

#: A problem shown above a form's inputs (bad command arguments, a name DataOS refused): it is about
#: what the form was opened or last drawn with, so a submission draws the form again without it.
BANNER_BLOCK = "banner"

NAME_BLOCK, NAME_INPUT = "name_block", "name"

#: What is wrong with the name, under its input. Like the banner it is about what the form was drawn with,
#: but it follows what is typed: a form drawn with it sends each change of the name (`dispatch_action`).
NAME_WARNING_BLOCK = "name_warning"

VALIDITY_BLOCK, VALIDITY_INPUT = "validity_block", "validity"

CUSTOM_BLOCK, CUSTOM_INPUT = "custom_block", "custom"

REVOKE_PICK_BLOCK, REVOKE_PICK_INPUT = "revoke_pick_block", "revoke_pick"

LINK_BLOCK, LINK_INPUT = "link_block", "pasted_key"

CUSTOM_VALUE = "custom"

HOME_REMINDERS_ACTION = "home_reminders"
