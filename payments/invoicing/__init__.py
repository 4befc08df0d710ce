"""Invoicing: issuing invoices and their numbers, the monthly cycle, credits and credit codes, credit notes,
discounts, corrections, receipts, previews and late usage. Knows nothing about Stripe (`payments.charging`)."""
