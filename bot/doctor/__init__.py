"""`apikey-bot doctor`: is this configuration going to work? A checklist, each item with what to do
(`checklist`: configuration, Slack, DataOS, the database, the key policy; `store`: Vault; `teams`: the team
channels; `grid`: Enterprise Grid's workspaces).

It only reads: no migration, no key created, and a SQLite file that does not exist is not created.
"""

from bot.doctor.check import Check
from bot.doctor.checklist import check_slack, run_doctor

__all__ = ["Check", "check_slack", "run_doctor"]
