"""Revocations a renewal scheduled ("the old key stops working in 24 hours"): carried out once each when
they fall due, under a claim with a lease, so a process stopped or killed mid-revocation leaves the claim
to be taken again; after a bounded number of failed attempts the bot stops trying and tells the key's
owners (its team channel, or the people acting as that DataOS user) and the admins, with a Revoke now
button that names the exact key. A promise a message made is kept, or someone is told.

`due` carries them out (the reminder sweep and housekeeping both run it), `notice` tells people,
`buttons` is the Revoke now listener.
"""

from datetime import timedelta

#: A claim not finished within this time was abandoned (its process was killed): taken again.
LEASE = timedelta(minutes=10)
#: Attempts before the bot stops trying and tells people. With a pass every 10 minutes at least
#: (housekeeping), about an hour of DataOS refusing, or a few crashes in a row.
MAX_ATTEMPTS = 5
