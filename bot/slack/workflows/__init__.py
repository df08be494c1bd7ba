"""Workflow Builder steps (issue #29): Slack's custom steps (`app.function`), declared in the manifest's
`functions` (`definitions`), handled once per execution and completed once (`runs`): create a key for a
person (`create`), request one for an application user, with approval when the key policy needs it
(`request`), and list keys that expire soon (`expiring`); `steps` registers them."""
