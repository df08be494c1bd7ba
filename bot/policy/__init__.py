"""The key policy (POLICY_FILE, issue #28): loading and checking the TOML file (`loader`), and deciding
for a person now (`governance`); the model and the decisions themselves are pure (`bot.domain.key_policy`)."""

from bot.policy.governance import Governance, PolicyUnavailable
from bot.policy.loader import PolicyError, describe, load_policy, load_policy_file, policy_of

__all__ = ["Governance", "PolicyError", "PolicyUnavailable", "describe", "load_policy", "load_policy_file", "policy_of"]
