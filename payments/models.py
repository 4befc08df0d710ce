# Payment accounts, invoices, payments, credit codes and Stripe events live here (payments/invoicing issues).
