"""Approvals in Slack (issue #28): the key policy at each submission that makes a key (`gate`), the request
as approvers and requesters see it (`surface`), its buttons and the Deny reason (`buttons`), and
`/apikey requests`, `/apikey policy` and the Home tab's section (`requests`)."""
