"""Local fakes of the two outside services: Heimdall (DataOS) and the Slack Web API.

Both are real HTTP servers on 127.0.0.1 running in a background thread, so the code under test talks
to them exactly as it talks to the real services.
"""
