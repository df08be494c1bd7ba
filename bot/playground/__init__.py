"""Embedded stand-ins for DataOS and Slack: the Heimdall emulator (`heimdall`) and the Slack Web API
fake (`slack`), real HTTP servers on 127.0.0.1. The tests and benchmarks run the bot against them, and
they are the base of the playground (issue #14): one emulator, not two."""
