"""The Stripe boundary: the gateway (the only module that talks to Stripe), payment accounts, cards, charge
attempts, charging invoices, webhooks, refunds, disputes, reconciliation and the sweeper. Depends on
`payments.invoicing`, never the other way round."""
