
ª
=
alice@example.com(https://login.example.com/oauth2/default
sso-oidcaal2"‰äŠØş
CFix rounding of ledger totals in multi-currency invoices (PAY-3312)bCoding agent edits ledger/rounding.rs on a branch and opens a pull request; no direct push to mainUnit tests for banker's rounding across EUR/JPY/KWD, full CI suite, and a reconciliation diff on last month's invoices in staging"OClose the pull request, or revert the merge commit and redeploy release v4.18.2"¨
standard github.com/acme/payments-service+ci.acme.internal/pipelines/payments-service	git.clonegit.push:branch/fix/*github.pull_request.createci.pipeline.run*	CHG-204812˜ìŠØ:¿ŒØBÛäŠØ