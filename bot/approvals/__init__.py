"""Approvals (issue #28): requests for keys the key policy does not let someone make alone, decided by the
approvers it names, and the key made and delivered once (`service`, `delivery`). How they are shown is
the `Surface` the composition gives it (`bot.slack.approvals`)."""

from bot.approvals.delivery import LEASE, KeyMaker
from bot.approvals.service import ApprovalService
from bot.approvals.surface import Ask, Delivered, Event, Opened, Renewal, Surface

__all__ = ["LEASE", "ApprovalService", "Ask", "Delivered", "Event", "KeyMaker", "Opened", "Renewal", "Surface"]
